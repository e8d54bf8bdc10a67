"""The replay's outputs: a summary table for the terminal (rich) and a self-contained HTML
report (plotly): equity curve, drawdown, daily P&L calendar heatmap, per-trade table and
the metrics with their conventions. Every figure comes from the service's answers."""

from __future__ import annotations

import html
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import plotly.graph_objects as go
from plotly.subplots import make_subplots
from rich.table import Table

from .replay import ReplayResult

#: The dashboard figures of the summary table: (label, key, unit).
SUMMARY_ROWS = (
    ("Closed trades", "total_trades", ""),
    ("Win rate (trades)", "win_rate_trades", "%"),
    ("Win rate (days)", "win_rate_days", "%"),
    ("Total P&L", "total_pnl", "USD"),
    ("Total return", "total_return", "%"),
    ("CAGR", "cagr", "%"),
    ("Profit factor", "profit_factor", ""),
    ("Average win", "avg_win", "USD"),
    ("Average loss", "avg_loss", "USD"),
    ("Expectancy", "expectancy", "USD"),
    ("Expectancy (R)", "expectancy_r", "R"),
    ("Max drawdown (daily equity)", "max_drawdown", "%"),
    ("Sharpe", "sharpe_ratio", ""),
    ("Sortino", "sortino_ratio", ""),
    ("Longest winning streak", "max_consecutive_wins", "trades"),
    ("Longest losing streak", "max_consecutive_losses", "trades"),
    ("First day", "start_date", ""),
    ("Last day", "end_date", ""),
)


def _fmt(value: Any, unit: str = "") -> str:
    if value is None:
        return "n/a"
    return f"{value} {unit}".strip()


def summary_table(result: ReplayResult) -> Table:
    """The terminal summary: the main dashboard figures and the trade-by-trade drawdown."""
    d, m = result.dashboard, result.metrics
    table = Table(title=f"Replay of {result.strategy_id} for {result.uid} ({result.bars} bars)")
    table.add_column("metric")
    table.add_column("value", justify="right")
    for label, key, unit in SUMMARY_ROWS:
        value = d.get(key)
        if key == "profit_factor" and value is None and d.get("profit_factor_infinite"):
            value = "infinite"
        table.add_row(label, _fmt(value, unit))
    table.add_row("Realized P&L (shadow metrics)", _fmt(m.get("realized_pnl"), "USD"))
    table.add_row("Max drawdown (trade by trade)", f"{m.get('max_drawdown_usd')} USD / {m.get('max_drawdown_percent')} %")
    return table


def _calendar(daily: list[dict[str, Any]]) -> go.Figure:
    """Daily P&L as a calendar: one row of weekday x week cells per year."""
    by_day = {date.fromisoformat(d["date"]): float(d["pnl"]) for d in daily}
    years = sorted({d.year for d in by_day}) or [date.today().year]
    fig = make_subplots(rows=len(years), cols=1, subplot_titles=[str(y) for y in years], vertical_spacing=0.04)
    # colour scale: +-90th percentile of |P&L|, so that one outsized day does not wash out
    # the others (beyond it, cells saturate; the hover text has the exact figure)
    sizes = sorted(abs(v) for v in by_day.values())
    limit = (sizes[int(0.9 * (len(sizes) - 1))] if sizes else 1.0) or 1.0
    for row, year in enumerate(years, start=1):
        first = date(year, 1, 1)
        z = [[None] * 54 for _ in range(7)]
        text = [[""] * 54 for _ in range(7)]
        day = first
        while day.year == year:
            week = (day - (first - timedelta(days=first.weekday()))).days // 7
            if day in by_day:
                z[day.weekday()][week] = by_day[day]
                text[day.weekday()][week] = f"{day.isoformat()}: {by_day[day]:,.2f} USD"
            day += timedelta(days=1)
        fig.add_trace(go.Heatmap(z=z, text=text, hoverinfo="text", zmin=-limit, zmax=limit, colorscale="RdYlGn",
                                 showscale=row == 1, xgap=2, ygap=2, colorbar={"title": "USD"}), row=row, col=1)
        fig.update_yaxes(tickvals=list(range(7)), ticktext=["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"],
                         autorange="reversed", row=row, col=1)
        fig.update_xaxes(showticklabels=False, row=row, col=1)
    fig.update_layout(title="Daily P&L calendar (close date)", height=max(260, 150 * len(years)))
    return fig


def _equity(curve: list[dict[str, Any]], capital: Any) -> go.Figure:
    x = [p["date"] for p in curve]
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, row_heights=[0.65, 0.35], vertical_spacing=0.06,
                        subplot_titles=["Equity (USD, end of day)", "Drawdown from peak (%)"])
    fig.add_trace(go.Scatter(x=x, y=[float(p["equity"]) for p in curve], name="equity", mode="lines"), row=1, col=1)
    fig.add_hline(y=float(capital), line_dash="dot", annotation_text="starting capital", row=1, col=1)
    fig.add_trace(go.Scatter(x=x, y=[-float(p["drawdown"]) for p in curve], name="drawdown", fill="tozeroy",
                             mode="lines", line={"color": "firebrick"}), row=2, col=1)
    fig.update_layout(title="Equity curve and drawdown", height=560, showlegend=False)
    return fig


def _table(headers: list[str], rows: list[list[Any]]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(_fmt(c))}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def write_report(result: ReplayResult, path: Path) -> Path:
    """Write the HTML report (plotly.js embedded: it opens offline) and return its path."""
    d = result.dashboard
    figures = [_equity(d.get("equity_curve") or [], d.get("starting_capital") or 0), _calendar(d.get("daily_pnl") or [])]
    charts = "".join(
        fig.to_html(full_html=False, include_plotlyjs=(i == 0), config={"displaylogo": False})
        for i, fig in enumerate(figures)
    )
    metric_rows = [[k, v] for k, v in d.items() if not isinstance(v, (list, dict))]
    trades = [[t.symbol, t.side, t.entry_day, t.entry_price, t.quantity, t.stop_loss, t.exit_day, t.exit_price,
               t.exit_reason, t.realized_pnl] for t in result.trades]
    conventions = [[k, v] for k, v in (d.get("conventions") or {}).items()]
    breakdown = [[r.get("symbol"), r["trades"], r["wins"], r["losses"], r["total_pnl"], r["win_rate"], r["profit_factor"]]
                 for r in d.get("by_symbol") or []]
    page = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Replay report: {html.escape(result.strategy_id)}</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 24px; color: #222; }}
table {{ border-collapse: collapse; margin: 8px 0 24px; font-size: 13px; }}
td, th {{ border: 1px solid #ccc; padding: 3px 8px; text-align: right; }}
th {{ background: #f3f3f3; }} td:first-child {{ text-align: left; }}
.cols {{ display: flex; gap: 32px; flex-wrap: wrap; }}
</style></head><body>
<h1>Replay report: {html.escape(result.strategy_id)}</h1>
<p>User <code>{html.escape(result.uid)}</code>, {result.bars} bars, {len(result.trades)} trades (source
<code>backtest</code>). Every figure below is what the Strategy Service answered
(<code>GET /trades/shadow/dashboard</code> and <code>GET /trades/shadow/metrics</code>).</p>
{charts}
<div class="cols"><div><h2>Metrics</h2>{_table(["metric", "value"], metric_rows)}</div>
<div><h2>Shadow metrics</h2>{_table(["metric", "value"], [[k, v] for k, v in result.metrics.items()])}
<h2>By symbol</h2>{_table(["symbol", "trades", "wins", "losses", "P&L USD", "win rate %", "profit factor"], breakdown)}
<h2>Conventions</h2>{_table(["convention", "value"], conventions)}</div></div>
<h2>Trades</h2>
{_table(["symbol", "side", "entry day", "entry", "quantity", "stop", "exit day", "exit", "reason", "realized P&L USD"], trades)}
</body></html>
"""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(page, encoding="utf-8")
    return path
