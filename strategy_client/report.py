"""The replay's outputs: a summary table for the terminal (rich) and a self-contained HTML
report (plotly): equity and drawdown as step lines, a daily P&L calendar, gross P&L,
costs and net, the trades, the figures by symbol and how they are computed. Every figure
comes from the service's answers; this module only formats and draws them (the one sum it
makes is the exact Decimal sum of the service's per-trade gross, commission, slippage and
net figures by symbol, in :func:`cost_breakdown`)."""

from __future__ import annotations

import html
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import plotly.graph_objects as go
from plotly.subplots import make_subplots
from rich.table import Table

from .importer import RefusedRow
from .replay import COST_FIELDS, ReplayResult

# --- formatting -----------------------------------------------------------------------

NOT_AVAILABLE = "n/a"
CENT = Decimal("0.01")


def _decimal(value: Any) -> Decimal | None:
    """The service's number (a JSON number read as Decimal, or a decimal string) as a
    Decimal, or None when it is not a number."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, Decimal):
        return value
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, str):
        try:
            number = Decimal(value.strip())
        except InvalidOperation:
            return None
        return number if number.is_finite() else None
    return None


def format_number(value: Any, min_places: int = 0) -> str:
    """Thousands separators, the service's digits kept exactly (never rounded), padded to
    at least ``min_places`` decimals: ``"60775.0"`` -> ``"60,775.0"``, with 2 places
    ``"129.6"`` -> ``"129.60"``. None is "n/a", a boolean "yes"/"no"; text is returned as is."""
    if value is None:
        return NOT_AVAILABLE
    if isinstance(value, bool):
        return "yes" if value else "no"
    number = _decimal(value)
    if number is None:
        return str(value)
    if number.as_tuple().exponent > -min_places:  # type: ignore[operator]
        number = number.quantize(Decimal(1).scaleb(-min_places))  # only adds zeros
    return f"{number:,f}"


def format_money(value: Any) -> str:
    """USD amount: ``"157258.89"`` -> ``"157,258.89 USD"`` (at least 2 decimals)."""
    return NOT_AVAILABLE if value is None else f"{format_number(value, 2)} USD"


def format_price(value: Any) -> str:
    """USD per unit, without the unit (a column header carries it): ``"129.6"`` -> ``"129.60"``."""
    return format_number(value, 2)


def format_percent(value: Any) -> str:
    """Percent as the service sends it (already x 100): ``"4.81"`` -> ``"4.81 %"``."""
    return NOT_AVAILABLE if value is None else f"{format_number(value)} %"


def format_value(value: Any, kind: str = "") -> str:
    """One figure by its kind: ``money``, ``price``, ``percent``, ``R``, ``hours``, ``days``,
    ``trades``, or plain (a number with separators; yes/no; n/a)."""
    if value is None or isinstance(value, bool) or _decimal(value) is None:
        return format_number(value)
    if kind == "money":
        return format_money(value)
    if kind == "price":
        return format_price(value)
    if kind == "percent":
        return format_percent(value)
    if kind in ("R", "hours", "days", "trades"):
        return f"{format_number(value)} {kind}"
    return format_number(value)


def humanize(key: str) -> str:
    """``"max_drawdown_usd"`` -> ``"Max drawdown usd"``: a label for a key this report does
    not know yet (the service may add figures)."""
    return key.replace("_", " ").strip().capitalize()


# --- the figures and their labels -----------------------------------------------------

#: Dashboard figures in reading order, in three groups: key -> (label, kind). The terminal
#: shows those in SUMMARY_KEYS; the HTML report shows all of them, then any key the service
#: added later (under "Other figures").
FIGURE_GROUPS: dict[str, dict[str, tuple[str, str]]] = {
    "Returns": {
        "starting_capital": ("Starting capital", "money"),
        "final_equity": ("Final equity", "money"),
        "gross_pnl": ("Gross P&L (price move only)", "money"),
        "total_commission": ("Commission", "money"),
        "total_slippage": ("Slippage (inside the fill prices)", "money"),
        "total_pnl": ("Total realized P&L", "money"),
        "total_return": ("Total return", "percent"),
        "cagr": ("CAGR", "percent"),
        "win_rate_trades": ("Win rate (trades)", "percent"),
        "win_rate_days": ("Win rate (days with a close)", "percent"),
        "profit_factor": ("Profit factor", ""),
        "payoff_ratio": ("Payoff ratio (average win / average loss)", ""),
        "start_date": ("First close", ""),
        "end_date": ("Last close", ""),
        "trading_days": ("Days with a close", "days"),
    },
    "Risk": {
        "max_drawdown": ("Max drawdown (daily equity)", "percent"),
        "sharpe_ratio": ("Sharpe ratio", ""),
        "sortino_ratio": ("Sortino ratio", ""),
        "volatility": ("Volatility (annualised)", "percent"),
        "calmar_ratio": ("Calmar ratio", ""),
        "sqn": ("System quality number (SQN)", ""),
        "max_consecutive_wins": ("Longest winning streak", "trades"),
        "max_consecutive_losses": ("Longest losing streak", "trades"),
        "r_trades": ("Trades with a risk (stop)", "trades"),
        "trades_without_risk": ("Trades without a risk", "trades"),
        "avg_risk_per_trade": ("Average risk per trade", "money"),
    },
    "Trades": {
        "total_trades": ("Closed trades", "trades"),
        "winning_trades": ("Winning trades", "trades"),
        "losing_trades": ("Losing trades", "trades"),
        "break_even_trades": ("Break-even trades", "trades"),
        "avg_win": ("Average win", "money"),
        "avg_loss": ("Average loss", "money"),
        "largest_win": ("Largest win", "money"),
        "largest_loss": ("Largest loss", "money"),
        "expectancy": ("Expectancy per trade", "money"),
        "expectancy_r": ("Expectancy per trade (R)", "R"),
        "avg_holding_hours": ("Average holding time", "hours"),
    },
}
DASHBOARD_FIGURES: dict[str, tuple[str, str]] = {k: v for group in FIGURE_GROUPS.values() for k, v in group.items()}

#: The terminal summary's dashboard figures.
SUMMARY_KEYS = (
    "total_trades", "win_rate_trades", "win_rate_days", "gross_pnl", "total_commission", "total_slippage", "total_pnl", "total_return", "cagr", "profit_factor",
    "avg_win", "avg_loss", "expectancy", "expectancy_r", "max_drawdown", "sharpe_ratio", "sortino_ratio",
    "volatility", "max_consecutive_wins", "max_consecutive_losses", "start_date", "end_date",
)

#: Keys shown elsewhere (charts, tables) or folded into another figure.
_NOT_IN_SUMMARY = {"profit_factor_infinite", "daily_pnl", "equity_curve", "by_symbol", "by_strategy", "by_source",
                   "conventions", "filters"}

#: Convention keys -> what the row says.
CONVENTION_LABELS = {
    "day": "Day of a P&L",
    "annualisation_days": "Annualisation (sessions a year)",
    "cagr_days_per_year": "Days a year for CAGR",
    "std_kind": "Standard deviation",
    "risk_free_rate": "Risk-free rate",
    "daily_returns": "Daily returns",
    "win_definition": "Wins and losses",
    "rounding": "Rounding",
    "r_multiple": "R-multiple",
    "trade_order": "Order of trades",
    "time_zone": "Time zone",
    "starting_capital": "Starting capital (USD)",
    "drawdown": "Drawdown",
    "equity_base": "Equity at the start",
    "window": "Window",
    "calendar": "Trading calendar",
    "return_days": "Days with a daily return",
    "days_without_return": "Days without a return (equity at or below zero)",
    "annualisation_factor": "Annualisation (sessions a year)",
    "cagr": "CAGR",
}


def other_figures(dashboard: dict[str, Any]) -> list[str]:
    """Scalar keys of the dashboard this report has no label for (added by the service later)."""
    return [k for k, v in dashboard.items()
            if k not in DASHBOARD_FIGURES and k not in _NOT_IN_SUMMARY and not isinstance(v, (list, dict))]


def dashboard_rows(dashboard: dict[str, Any], keys: Iterable[str] | None = None) -> list[tuple[str, str]]:
    """(label, formatted value) of the dashboard's scalar figures: ``keys`` in that order,
    or every known figure then every unknown scalar key (humanized, plain format)."""
    if keys is None:
        keys = [k for k in DASHBOARD_FIGURES if k in dashboard] + other_figures(dashboard)
    rows = []
    for key in keys:
        label, kind = DASHBOARD_FIGURES.get(key, (humanize(key), ""))
        value = dashboard.get(key)
        if key == "profit_factor" and value is None and dashboard.get("profit_factor_infinite"):
            text = "infinite (no losses)"
        else:
            text = format_value(value, kind)
        rows.append((label, text))
    return rows


def drawdown_rows(metrics: dict[str, Any]) -> list[tuple[str, str]]:
    """The shadow-mode metrics' drawdown (trade by trade, from the peak of cumulative P&L)."""
    return [
        ("Max drawdown (trade by trade)",
         f"{format_money(metrics.get('max_drawdown_usd'))} / {format_percent(metrics.get('max_drawdown_percent'))}"),
    ]


@dataclass(frozen=True)
class CostLine:
    """Gross P&L, costs and net of one scope (a symbol, or the strategy over all symbols),
    USD. A figure the service did not send is None."""

    scope: str
    trades: int
    gross: Decimal | None
    commission: Decimal | None
    slippage: Decimal | None
    net: Decimal | None


def _sum(values: Iterable[Any]) -> Decimal | None:
    """Exact sum of the service's figures; None when any of them is missing."""
    total = Decimal(0)
    for value in values:
        number = _decimal(value)
        if number is None:
            return None
        total += number
    return total


def cost_breakdown(result: ReplayResult) -> list[CostLine]:
    """Gross P&L, commission, slippage and net (USD) by symbol, then for the strategy over
    all symbols.

    The symbol lines are exact Decimal sums of the service's figures of each closed trade
    (``gross_pnl``, ``commission``, ``slippage``, ``realized_pnl``). The strategy line is
    the dashboard's ``gross_pnl``, ``total_commission``, ``total_slippage`` and
    ``total_pnl`` when the service sends them, else the sum over every closed trade.
    Net = gross - commission; slippage is already inside the fill prices (so inside gross)
    and is shown, never subtracted a second time.

    Args:
        result: the replay's result.

    Returns:
        One :class:`CostLine` per symbol (in replay order), then the strategy's line.
    """
    closed = [t for t in result.trades if t.exit_day is not None]

    def line(scope: str, trades: Sequence[Any]) -> CostLine:
        return CostLine(scope, len(trades), _sum(t.gross_pnl for t in trades), _sum(t.commission for t in trades),
                        _sum(t.slippage for t in trades), _sum(t.realized_pnl for t in trades))

    symbols = list(dict.fromkeys(t.symbol for t in result.trades))
    lines = [line(symbol, [t for t in closed if t.symbol == symbol]) for symbol in symbols]
    total = line(f"{result.strategy_id} (all symbols)", closed)
    d = result.dashboard
    if "gross_pnl" in d:
        total = CostLine(total.scope, d.get("total_trades", total.trades), _decimal(d.get("gross_pnl")),
                         _decimal(d.get("total_commission")), _decimal(d.get("total_slippage")),
                         _decimal(d.get("total_pnl")))
    return [*lines, total]


COST_HEADERS = ("Scope", "Closed trades", "Gross P&L", "Commission", "Slippage (in prices)", "Net P&L")


def cost_rows(result: ReplayResult) -> list[list[str]]:
    """The rows of :func:`cost_breakdown`, formatted (money as ``1,234.56 USD``, n/a when
    the service sent no such figure)."""
    return [[c.scope, format_number(c.trades), format_money(c.gross), format_money(c.commission),
             format_money(c.slippage), format_money(c.net)] for c in cost_breakdown(result)]


def refused_table(refused: Sequence[RefusedRow]) -> Table:
    """The refused rows of an import as a rich table: line, execution id, code, message
    (in line order)."""
    table = Table(title=f"Refused rows ({len(refused)})", title_justify="left")
    for header in ("Line", "execution_id", "Code", "Message"):
        table.add_column(header, overflow="fold")
    for row in sorted(refused, key=lambda r: r.line):
        table.add_row(str(row.line), row.execution_id, row.code, row.message)
    return table


def costs_table(result: ReplayResult) -> Table:
    """The terminal table of gross P&L, commission, slippage and net, by symbol and for
    the strategy (:func:`cost_breakdown`)."""
    model = ", ".join(f"{k} {v}" for k, v in (result.costs or {}).items() if k in COST_FIELDS and _decimal(v))
    table = Table(title="Gross, costs and net" + (f" ({model})" if model else " (the strategy's cost model)"))
    for n, header in enumerate(COST_HEADERS):
        table.add_column(header, justify="left" if n == 0 else "right")
    for row in cost_rows(result):
        table.add_row(*row)
    return table


def summary_table(result: ReplayResult) -> Table:
    """The terminal summary: the main dashboard figures and the trade-by-trade drawdown,
    formatted as in the HTML report."""
    table = Table(title=f"Replay of {result.strategy_id} for {result.uid} ({format_number(result.bars)} bars)")
    table.add_column("Figure")
    table.add_column("Value", justify="right")
    for label, text in dashboard_rows(result.dashboard, [k for k in SUMMARY_KEYS if k in result.dashboard]):
        table.add_row(label, text)
    for label, text in drawdown_rows(result.metrics):
        table.add_row(label, text)
    return table


# --- charts ---------------------------------------------------------------------------

def _float(value: Any) -> float:
    number = _decimal(value)
    return float(number) if number is not None else 0.0


def equity_figure(curve: Sequence[dict[str, Any]], starting_capital: Any, first_day: date | None = None,
                  last_day: date | None = None) -> go.Figure:
    """Equity (USD, realized P&L only) and drawdown from the highest equity so far (%), as
    step lines: a value holds from its close day until the next close day
    (``line.shape == "hv"``). The curve starts on ``first_day`` at the equity before its
    first close and holds its last value until ``last_day`` (the replayed range), when given."""
    points = [(p["date"], _float(p["equity"]), -_float(p["drawdown"]), format_money(p["equity"]),
               format_percent(p["drawdown"]), format_money(p.get("daily_pnl"))) for p in curve]
    if first_day and (not points or first_day.isoformat() < points[0][0]):
        # the equity before the first close: that close's equity less its P&L (the starting
        # capital, or the window's starting equity under a date filter)
        base = (_decimal(curve[0]["equity"]) or 0) - (_decimal(curve[0].get("daily_pnl")) or 0) if curve \
            else _decimal(starting_capital) or Decimal(0)
        points.insert(0, (first_day.isoformat(), float(base), 0.0, format_money(base), format_percent("0.00"),
                          "equity at the start"))
    if last_day and points and last_day.isoformat() > points[-1][0]:
        points.append((last_day.isoformat(), *points[-1][1:5], "end of the replay"))
    x = [p[0] for p in points]
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, row_heights=[0.68, 0.32], vertical_spacing=0.07,
                        subplot_titles=["Equity (USD, realized P&L only, at each day's close)",
                                        "Drawdown from the highest equity so far (%)"])
    fig.add_trace(go.Scatter(
        x=x, y=[p[1] for p in points], name="equity", mode="lines", line={"shape": "hv", "color": "#1f5fa8", "width": 2},
        customdata=[[p[3], p[5]] for p in points],
        hovertemplate="%{x|%Y-%m-%d}<br>equity %{customdata[0]}<br>day's P&L %{customdata[1]}<extra></extra>",
    ), row=1, col=1)
    fig.add_hline(y=_float(starting_capital), line_dash="dot", line_color="#888", row=1, col=1,
                  annotation_text=f"starting capital {format_money(starting_capital)}", annotation_position="bottom right")
    fig.add_trace(go.Scatter(
        x=x, y=[p[2] for p in points], name="drawdown", mode="lines", fill="tozeroy",
        line={"shape": "hv", "color": "firebrick", "width": 1.5}, customdata=[p[4] for p in points],
        hovertemplate="%{x|%Y-%m-%d}<br>drawdown %{customdata}<extra></extra>",
    ), row=2, col=1)
    fig.update_yaxes(tickformat=",.0f", ticksuffix=" USD", row=1, col=1)
    fig.update_yaxes(ticksuffix=" %", rangemode="tozero", row=2, col=1)
    fig.update_layout(height=540, showlegend=False, hovermode="x unified",
                      margin={"l": 90, "r": 30, "t": 40, "b": 40}, plot_bgcolor="white")
    fig.update_xaxes(gridcolor="#eee", showline=True, linecolor="#ccc")
    fig.update_yaxes(gridcolor="#eee", zeroline=True, zerolinecolor="#ccc")
    return fig


MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
#: Weekday rows that carry a label (every other row, so the labels never overlap).
LABELLED_WEEKDAYS = (0, 2, 4, 6)
#: Diverging colours: losses red, gains green, zero pale.
PNL_COLOURS = [[0.0, "#a50026"], [0.25, "#f46d43"], [0.5, "#f5f5f0"], [0.75, "#66bd63"], [1.0, "#006837"]]
NO_CLOSE_COLOUR = "#e4e7eb"
#: Saturdays and Sundays without a close: paler, so the trading week stands out.
WEEKEND_COLOUR = "#f1f2f4"
CALENDAR_LEGEND = (
    "Each cell is one day, coloured by the realized P&L of the trades closed that day. "
    "Grey: a day of the replay without a close (paler on weekends). The colour scale is a signed logarithmic scale "
    "(sign x log10(1 + |P&L in USD|)): each step of the colour bar is ten times the previous, so small "
    "and very large days stay apart and no day is clipped. Hover over a day for the exact figure."
)


def signed_log(value: float) -> float:
    """The calendar's colour value of a P&L in USD: ``sign(v) x log10(1 + |v|)``."""
    return math.copysign(math.log10(1 + abs(value)), value)


def _week(day: date) -> int:
    """Column of ``day`` in its year's grid: weeks start on Monday, week 0 holds 1 January."""
    jan1 = date(day.year, 1, 1)
    return (day - (jan1 - timedelta(days=jan1.weekday()))).days // 7


def calendar_figure(daily: Sequence[dict[str, Any]], first_day: date | None = None,
                    last_day: date | None = None) -> go.Figure:
    """Daily realized P&L as a calendar: one row per year of ``first_day``..``last_day``
    (the replayed range; years without a close included), weekdays down and weeks across,
    month labels along the top of each year, and the year's total on its left. Colours on
    a signed log scale (:func:`signed_log`, legend in :data:`CALENDAR_LEGEND`)."""
    by_day = {date.fromisoformat(d["date"]): d for d in daily}
    first = first_day or min(by_day, default=date.today())
    last = last_day or max(by_day, default=first)
    first, last = min([first, *by_day]), max([last, *by_day])
    years = list(range(first.year, last.year + 1))
    biggest = max((abs(_float(d["pnl"])) for d in by_day.values()), default=1.0)
    decades = max(1, math.ceil(math.log10(1 + biggest)))
    row_px, gap_px, top_px, bottom_px = 136, 40, 30, 20
    height = top_px + bottom_px + len(years) * row_px + (len(years) - 1) * gap_px
    plot_px = height - top_px - bottom_px
    fig = make_subplots(rows=len(years), cols=1, vertical_spacing=gap_px / plot_px if len(years) > 1 else 0)
    for row, year in enumerate(years, start=1):
        pnl = [[None] * 54 for _ in range(7)]
        empty = [[None] * 54 for _ in range(7)]
        hover = [[""] * 54 for _ in range(7)]
        total, days = Decimal(0), 0
        day = max(date(year, 1, 1), first)
        while day.year == year and day <= last:
            w, col = day.weekday(), _week(day)
            if day in by_day:
                entry = by_day[day]
                pnl[w][col] = signed_log(_float(entry["pnl"]))
                trades = entry.get("trades")
                hover[w][col] = (f"{WEEKDAYS[w]} {day.isoformat()}<br>{format_money(entry['pnl'])}"
                                 + (f"<br>{trades} trade{'s' if trades != 1 else ''} closed" if trades else ""))
                total += _decimal(entry["pnl"]) or 0
                days += 1
            else:
                empty[w][col] = 1 if w >= 5 else 0
                hover[w][col] = f"{WEEKDAYS[w]} {day.isoformat()}<br>no close"
            day += timedelta(days=1)
        fig.add_trace(go.Heatmap(z=empty, text=hover, hoverinfo="text", colorscale=[[0, NO_CLOSE_COLOUR], [1, WEEKEND_COLOUR]],
                                 showscale=False, xgap=2, ygap=2, zmin=0, zmax=1), row=row, col=1)
        fig.add_trace(go.Heatmap(z=pnl, text=hover, hoverinfo="text", coloraxis="coloraxis", xgap=2, ygap=2),
                      row=row, col=1)
        fig.update_xaxes(range=[-0.5, 53.5], side="top", tickvals=[_week(date(year, m, 1)) for m in range(1, 13)],
                         ticktext=list(MONTHS),
                         showgrid=False, zeroline=False, ticks="", row=row, col=1)
        summary = f"{format_money(total)}<br>{days} day{'s' if days != 1 else ''} with a close" if days else "no close"
        fig.update_yaxes(range=[6.5, -0.5], tickvals=list(LABELLED_WEEKDAYS), ticktext=[WEEKDAYS[i] for i in LABELLED_WEEKDAYS],
                         showgrid=False, zeroline=False, ticks="", row=row, col=1)
        axis = "y" if row == 1 else f"y{row}"
        fig.add_annotation(text=f"<b>{year}</b><br><span style='font-size:11px;color:#555'>{summary}</span>",
                           xref="paper", yref=f"{axis} domain", x=0, y=0.5, xanchor="right", yanchor="middle",
                           xshift=-46, align="right", showarrow=False, font={"size": 15}, name=f"year {year}")
    ticks = [0.0]
    for k in range(1, decades + 1):
        ticks += [signed_log(10.0 ** k), signed_log(-(10.0 ** k))]
    ticks.sort()
    fig.update_layout(
        height=height, plot_bgcolor="white", margin={"l": 170, "r": 130, "t": top_px, "b": bottom_px},
        coloraxis={
            "colorscale": PNL_COLOURS, "cmin": -decades, "cmax": decades, "cmid": 0,
            "colorbar": {"title": {"text": "P&L of the day<br>(USD, log scale)"}, "tickvals": ticks,
                         "ticktext": [_tick(t) for t in ticks], "lenmode": "pixels", "len": min(340, plot_px),
                         "y": 1, "yanchor": "top", "thickness": 14},
        },
    )
    return fig


def costs_figure(lines: Sequence[CostLine]) -> go.Figure:
    """Gross P&L, commission (drawn negative) and net P&L (USD) of each
    :class:`CostLine`, as grouped bars; hover gives the exact figures."""
    fig = go.Figure()
    scopes = [c.scope for c in lines]
    for name, colour, values in (
        ("gross P&L", "#1f5fa8", [c.gross for c in lines]),
        ("commission", "#d9822b", [None if c.commission is None else -c.commission for c in lines]),
        ("net P&L", "#176b2c", [c.net for c in lines]),
    ):
        fig.add_trace(go.Bar(x=scopes, y=[None if v is None else float(v) for v in values], name=name,
                             marker_color=colour, customdata=[format_money(v) for v in values],
                             hovertemplate="%{x}<br>" + name + " %{customdata}<extra></extra>"))
    fig.update_layout(barmode="group", height=360, plot_bgcolor="white", margin={"l": 90, "r": 30, "t": 30, "b": 40})
    fig.update_yaxes(tickformat=",.0f", ticksuffix=" USD", gridcolor="#eee", zeroline=True, zerolinecolor="#999")
    return fig


def _tick(value: float) -> str:
    if value == 0:
        return "0"
    amount = round(10 ** abs(value) - 1)
    return f"{'+' if value > 0 else '-'}{amount:,}"


# --- HTML -----------------------------------------------------------------------------

def _table(headers: Sequence[str], rows: Iterable[Sequence[Any]], numeric: Sequence[bool] | None = None,
           css: str = "", signed: Sequence[int] = ()) -> str:
    """An HTML table of already formatted cells; ``numeric`` columns are right-aligned, and
    the cells of the ``signed`` columns (P&L) are coloured as a gain or a loss."""
    numeric = numeric or [False] * len(headers)
    head = "".join(f"<th class='{'num' if n else ''}'>{html.escape(h)}</th>" for h, n in zip(headers, numeric))
    body = []
    for row in rows:
        cells = []
        for i, (cell, n) in enumerate(zip(row, numeric)):
            text = str(cell)
            cls = ["num"] if n else []
            amount = _decimal(text.removesuffix(" USD").replace(",", "")) if i in signed else None
            if amount:
                cls.append("loss" if amount < 0 else "gain")
            cells.append(f"<td class='{' '.join(cls)}'>{html.escape(text)}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table class='{css}'><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _convention_text(value: Any) -> str:
    if isinstance(value, dict):
        return "; ".join(f"{humanize(str(k)).lower()}: {_convention_text(v)}" for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return ", ".join(_convention_text(v) for v in value)
    return format_number(value)


def write_report(result: ReplayResult, path: Path) -> Path:
    """Write the HTML report (plotly.js embedded: it opens offline) and return its path."""
    d, m = result.dashboard, result.metrics
    conventions = d.get("conventions") or {}
    figures = [equity_figure(d.get("equity_curve") or [], d.get("starting_capital") or 0, result.first_day, result.last_day),
               calendar_figure(d.get("daily_pnl") or [], result.first_day, result.last_day),
               costs_figure(cost_breakdown(result))]
    charts = [fig.to_html(full_html=False, include_plotlyjs=(i == 0), config={"displaylogo": False, "responsive": True})
              for i, fig in enumerate(figures)]
    groups = {title: dashboard_rows(d, [k for k in keys if k in d]) for title, keys in FIGURE_GROUPS.items()}
    groups["Risk"] += drawdown_rows(m)
    if other_figures(d):
        groups["Other figures"] = dashboard_rows(d, other_figures(d))
    summary = "".join(f"<div><h3>{html.escape(title)}</h3>{_table(['Figure', 'Value'], rows, [False, True])}</div>"
                      for title, rows in groups.items())
    by_symbol = _table(
        ["Symbol", "Trades", "Wins", "Losses", "Break-even", "Realized P&L", "Win rate", "Profit factor"],
        [[r.get("symbol"), format_number(r.get("trades")), format_number(r.get("wins")), format_number(r.get("losses")),
          format_number(r.get("break_even")), format_money(r.get("total_pnl")), format_percent(r.get("win_rate")),
          "infinite" if r.get("profit_factor") is None and r.get("profit_factor_infinite") else format_number(r.get("profit_factor"))]
         for r in d.get("by_symbol") or []],
        [False] + [True] * 7, signed=(5,))
    trades = _table(
        ["Symbol", "Side", "Entry day", "Entry price (USD)", "Quantity", "Stop (USD)", "Target (USD)", "Exit day",
         "Exit price (USD)", "Exit reason", "Gross P&L", "Commission", "Slippage", "Net P&L"],
        [[t.symbol, {"BUY": "long", "SELL": "short"}.get(t.side, t.side), format_number(t.entry_day and t.entry_day.isoformat()),
          format_price(t.entry_price), format_number(t.quantity), format_price(t.stop_loss), format_price(t.take_profit),
          format_number(t.exit_day and t.exit_day.isoformat()), format_price(t.exit_price),
          t.exit_reason or "still open", format_money(t.gross_pnl), format_money(t.commission), format_money(t.slippage),
          format_money(t.realized_pnl)] for t in result.trades],
        [False, False, False, True, True, True, True, False, True, False, True, True, True, True], signed=(10, 13))
    costs = _table(list(COST_HEADERS), cost_rows(result), [False] + [True] * 5, signed=(2, 5))
    model = (", ".join(f"<code>{html.escape(k)}</code> {html.escape(format_number(v))}"
                       for k, v in result.costs.items() if k in COST_FIELDS)
             if result.costs else "the strategy's model on the service (the replay set none)")
    how = _table(["", ""], [[CONVENTION_LABELS.get(k, humanize(k)), _convention_text(v)] for k, v in conventions.items()],
                 css="how")
    span = (f"{result.first_day.isoformat()} to {result.last_day.isoformat()}"
            if result.first_day and result.last_day else "no bars")
    tz = conventions.get("time_zone", "the user's time zone")
    page = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Replay report: {html.escape(result.strategy_id)}</title>
<style>
body {{ font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 24px 32px; color: #222; max-width: 1400px; }}
h1 {{ margin-bottom: 4px; }} h2 {{ margin-top: 32px; border-bottom: 1px solid #ddd; padding-bottom: 4px; }}
.lead {{ color: #555; margin-top: 0; }}
table {{ border-collapse: collapse; margin: 8px 0 16px; font-size: 13px; }}
td, th {{ border-bottom: 1px solid #e3e3e3; padding: 4px 10px; text-align: left; }}
th {{ background: #f5f6f8; font-weight: 600; }} .num {{ text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }}
.gain {{ color: #176b2c; }} .loss {{ color: #b00020; }}
table.how td:first-child {{ font-weight: 600; white-space: nowrap; vertical-align: top; }}
.cols {{ display: flex; gap: 40px; flex-wrap: wrap; align-items: flex-start; }}
h3 {{ margin: 8px 0 0; font-size: 15px; color: #444; }}
.note {{ color: #444; font-size: 13px; max-width: 1000px; }}
</style></head><body>
<h1>Replay report: {html.escape(result.strategy_id)}</h1>
<p class="lead">User <code>{html.escape(result.uid)}</code> &middot; {html.escape(format_number(result.bars))} bars from {html.escape(span)}
&middot; {len(result.trades)} trades, all backtest. Every figure is the Strategy Service's answer
(<code>GET /trades/shadow/dashboard</code> and <code>GET /trades/shadow/metrics</code>, filtered on this strategy's backtest trades).</p>
<h2>Performance summary</h2>
<div class="cols">{summary}</div>
<h2>By symbol</h2>
{by_symbol}
<h2>Equity and drawdown</h2>
<p class="note">Equity is the starting capital plus the realized P&L, taken at the close of each day with a close
and held until the next one (step lines): a loss realized on one day shows as one step on that day.</p>
{charts[0]}
<h2>Daily P&L calendar</h2>
<p class="note">{html.escape(CALENDAR_LEGEND)} Days are close dates in {html.escape(str(tz))}.</p>
{charts[1]}
<h2>Gross, costs and net</h2>
<p class="note">Cost model: {model}. Net P&L = gross P&L - commission (entry and exit fills). Slippage is already inside the
fill prices, so inside the gross P&L: it is shown, not subtracted a second time. The symbol lines add up the service's
figures of each closed trade; the strategy line is the service's dashboard.</p>
{costs}
{charts[2]}
<h2>Trades</h2>
{trades}
<h2>How these figures are computed</h2>
{how}
<p class="note">The trade-by-trade drawdown (shadow-mode metrics) is measured from the peak of cumulative realized P&L, so
its percent is relative to that P&L, not to equity; the daily max drawdown is relative to the highest daily equity.</p>
</body></html>
"""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(page, encoding="utf-8")
    return path
