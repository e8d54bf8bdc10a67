"""The replay's cost options and the report's gross / costs / net lines, without a
service: option parsing to exact decimals, the PUT body, and the per-symbol and total
lines built from trade records and a dashboard given here."""

from __future__ import annotations

from datetime import date
from decimal import Decimal as D

import pytest
import typer

from strategy_client.cli import costs_of_options
from strategy_client.replay import COST_FIELDS, Costs, ReplayResult, TradeRecord
from strategy_client.report import CostLine, cost_breakdown, cost_rows, costs_table, write_report

NO_OPTIONS = dict.fromkeys(COST_FIELDS)


class TestCostOptions:
    def test_no_option_sets_no_model(self):
        assert costs_of_options(**NO_OPTIONS) is None

    def test_given_options_are_exact_decimals_and_the_rest_zero(self):
        costs = costs_of_options(**{**NO_OPTIONS, "commission_percent": "0.1", "commission_min": "1.00",
                                    "slippage_bps": "2.5"})
        assert costs == Costs(commission_percent=D("0.1"), commission_min=D("1.00"), slippage_bps=D("2.5"))
        assert costs.to_body() == {
            "commission_per_order": "0", "commission_per_unit": "0", "commission_percent": "0.1",
            "commission_min": "1.00", "commission_max": "0", "slippage_bps": "2.5",
        }

    def test_a_body_never_goes_through_a_float(self):
        body = Costs(commission_per_unit=D("0.0035"), commission_max=D("12345678901234.005")).to_body()
        assert body["commission_per_unit"] == "0.0035" and body["commission_max"] == "12345678901234.005"

    @pytest.mark.parametrize(("field", "text", "message"), [
        ("commission_percent", "abc", "not a decimal number"),
        ("commission_per_order", "-1", "at least 0"),
        ("slippage_bps", "nan", "finite"),
    ])
    def test_bad_values_are_refused_before_any_call(self, field, text, message):
        with pytest.raises(typer.BadParameter, match=message):
            costs_of_options(**{**NO_OPTIONS, field: text})

    def test_an_unknown_field_is_refused(self):
        with pytest.raises(ValueError, match="unknown cost field"):
            Costs.from_options(commission_rate=D("1"))


def trade(symbol: str, gross: str | None, commission: str | None, slippage: str | None, net: str,
          closed: bool = True) -> TradeRecord:
    return TradeRecord(symbol, "BUY", f"id-{symbol}-{net}", date(2020, 1, 2), "100", "10",
                       exit_day=date(2020, 1, 9) if closed else None, realized_pnl=net if closed else None,
                       gross_pnl=gross, commission=commission, slippage=slippage)


def result(trades: list[TradeRecord], dashboard: dict | None = None, costs: dict | None = None) -> ReplayResult:
    return ReplayResult("u", "ma-cross-10-30", 10, trades, {}, dashboard or {}, date(2020, 1, 1), date(2020, 2, 1),
                        costs=costs)


class TestCostBreakdown:
    TRADES = [
        trade("GOOG", "120.50", "2.01", "0.30", "118.49"),
        trade("EURUSD", "-40.00", "1.00", "0.00", "-41.00"),
        trade("GOOG", "-10.25", "1.99", "0.12", "-12.24"),
        trade("GOOG", None, None, None, "0", closed=False),  # still open: not counted
    ]

    def test_by_symbol_and_total_from_the_trades(self):
        lines = cost_breakdown(result(self.TRADES))
        assert lines == [
            CostLine("GOOG", 2, D("110.25"), D("4.00"), D("0.42"), D("106.25")),
            CostLine("EURUSD", 1, D("-40.00"), D("1.00"), D("0.00"), D("-41.00")),
            CostLine("ma-cross-10-30 (all symbols)", 3, D("70.25"), D("5.00"), D("0.42"), D("65.25")),
        ]
        assert all(line.gross - line.commission == line.net for line in lines)  # net = gross - commission

    def test_the_total_is_the_dashboard_when_the_service_sends_it(self):
        dashboard = {"total_trades": 3, "gross_pnl": D("70.25"), "total_commission": D("5.00"),
                     "total_slippage": D("0.42"), "total_pnl": D("65.25")}
        assert cost_breakdown(result(self.TRADES, dashboard))[-1] == \
            CostLine("ma-cross-10-30 (all symbols)", 3, D("70.25"), D("5.00"), D("0.42"), D("65.25"))

    def test_a_service_without_cost_figures_shows_not_available(self):
        rows = cost_rows(result([trade("GOOG", None, None, None, "10.00")]))
        assert rows == [["GOOG", "1", "n/a", "n/a", "n/a", "10.00 USD"],
                        ["ma-cross-10-30 (all symbols)", "1", "n/a", "n/a", "n/a", "10.00 USD"]]

    def test_terminal_table_and_html_report_show_gross_costs_and_net(self, tmp_path):
        r = result(self.TRADES, costs={"commission_percent": "0.1", "commission_per_order": "0"})
        table = costs_table(r)
        assert "commission_percent 0.1" in table.title and "commission_per_order" not in table.title
        assert [c.header for c in table.columns] == ["Scope", "Closed trades", "Gross P&L", "Commission",
                                                     "Slippage (in prices)", "Net P&L"]
        assert table.columns[5]._cells == ["106.25 USD", "-41.00 USD", "65.25 USD"]
        page = write_report(r, tmp_path / "r.html").read_text()
        assert "<h2>Gross, costs and net</h2>" in page and "<code>commission_percent</code> 0.1" in page
        assert "<td class='num gain'>65.25 USD</td>" in page and "<td class='num'>5.00 USD</td>" in page
        assert "not subtracted a second time" in page
