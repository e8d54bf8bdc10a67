"""Client commands of ``strategy-service`` (entry point group ``strategy_service.commands``):
``replay`` drives a running service over HTTP, ``import-fills`` records broker executions
from a CSV through it. Installed with the ``client`` extra."""

from __future__ import annotations

import asyncio
from datetime import datetime, timezone
from pathlib import Path
from typing import Annotated

import httpx
import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from backend.strategy_service.auth.emulator import make_emulator_token
from backend.strategy_service.config import get_settings
from backend.strategy_service.core.money import optional_decimal

from .importer import (
    ImportAborted, ImportResult, MissingColumns, RetryPolicy, import_fills, read_fills,
)
from .replay import Costs, LivePerturbation, ServiceCallFailed, load_strategy, read_ohlcv, replay
from .report import costs_table, refused_table, summary_table, write_report

app = typer.Typer()


def _decimal_or_none(value: str | None, name: str):
    """The option's text as an exact Decimal (None when not given).

    Raises:
        typer.BadParameter: the text is not a finite decimal number.
    """
    try:
        return optional_decimal(value, field=name)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint=name) from exc


def costs_of_options(**options: str | None) -> Costs | None:
    """The replay's cost model from the ``--commission-*`` and ``--slippage-bps`` options
    (cost field name -> the option's text or None), parsed as exact decimals.

    Returns:
        A :class:`~strategy_client.replay.Costs` (fields not given are 0), or None when no
        cost option was given (the strategy's model on the service is left as it is).

    Raises:
        typer.BadParameter: a value that is not a decimal number, or a negative one.
    """
    parsed = {name: _decimal_or_none(text, "--" + name.replace("_", "-")) for name, text in options.items()}
    try:
        return Costs.from_options(**parsed)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--commission-* / --slippage-bps") from exc


def user_token(token: str | None, uid: str, command: str) -> str:
    """The trading user's ID token: ``token`` when given, else an unsigned emulator token
    for ``uid`` (only in emulator mode, ``FIREBASE_AUTH_EMULATOR_HOST`` set).

    Raises:
        typer.Exit: code 2, without a token outside emulator mode.
    """
    if token:
        return token
    settings = get_settings()
    if not settings.FIREBASE_AUTH_EMULATOR_HOST:
        typer.echo(f"{command}: give --token (emulator tokens only in emulator mode)", err=True)
        raise typer.Exit(2)
    return make_emulator_token(uid, settings.GOOGLE_CLOUD_PROJECT)


def live_perturbation_of_options(bps: str | None, seed: str) -> LivePerturbation | None:
    """The replay's live fills from ``--live-perturb-bps`` (a decimal string, basis
    points) and ``--live-seed``.

    Returns:
        A :class:`~strategy_client.replay.LivePerturbation`, or None without
        ``--live-perturb-bps`` (no live fill is sent).

    Raises:
        typer.BadParameter: not a decimal number, or out of range (0 to 1,000 bps).
    """
    value = _decimal_or_none(bps, "--live-perturb-bps")
    if value is None:
        return None
    try:
        return LivePerturbation(bps=value, seed=seed)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--live-perturb-bps") from exc


@app.command("replay")
def replay_command(
    csv_files: Annotated[list[Path], typer.Argument(exists=True, dir_okay=False,
                                                    help="OHLCV CSV files (Date,Open,High,Low,Close,Volume).")],
    symbol: Annotated[list[str] | None, typer.Option(help="Symbol of each file, in order (default: the file "
                                                           "name up to its first '-', e.g. GOOG for GOOG.csv).")] = None,
    url: Annotated[str, typer.Option(envvar="STRATEGY_SERVICE_URL", help="The running service.")] = "http://127.0.0.1:8000",
    strategy: Annotated[str, typer.Option(help="'ma-cross' or 'package.module:Class'.")] = "ma-cross",
    fast: Annotated[int, typer.Option(help="ma-cross: fast window, bars.")] = 10,
    slow: Annotated[int, typer.Option(help="ma-cross: slow window, bars.")] = 30,
    long_short: Annotated[bool, typer.Option(help="ma-cross: go short below the slow average too.")] = False,
    stop_loss_percent: Annotated[str | None, typer.Option(help="ma-cross: stop this percent from the entry.")] = None,
    take_profit_percent: Annotated[str | None, typer.Option(help="ma-cross: target this percent from the entry.")] = None,
    commission_per_order: Annotated[str | None, typer.Option(help="Costs: USD per fill.")] = None,
    commission_per_unit: Annotated[str | None, typer.Option(help="Costs: USD per unit filled.")] = None,
    commission_percent: Annotated[str | None, typer.Option(help="Costs: percent of each fill's notional "
                                                                "(0.1 = 0.1 %).")] = None,
    commission_min: Annotated[str | None, typer.Option(help="Costs: least commission of a fill, USD.")] = None,
    commission_max: Annotated[str | None, typer.Option(help="Costs: largest commission of a fill, USD.")] = None,
    slippage_bps: Annotated[str | None, typer.Option(help="Costs: basis points of the bar's price, against the "
                                                          "trader, on every fill.")] = None,
    notional: Annotated[str, typer.Option(help="USD per entry.")] = "10000",
    quantity: Annotated[str | None, typer.Option(help="Units per entry (instead of --notional).")] = None,
    start: Annotated[str | None, typer.Option(help="First bar date (YYYY-MM-DD).")] = None,
    end: Annotated[str | None, typer.Option(help="Last bar date (YYYY-MM-DD).")] = None,
    uid: Annotated[str | None, typer.Option(help="Trading user (default: replay-<time>, a fresh user per run).")] = None,
    token: Annotated[str | None, typer.Option(envvar="STRATEGY_SERVICE_TOKEN", help="The user's ID token.")] = None,
    report: Annotated[Path, typer.Option(help="HTML report path.")] = Path("reports/replay.html"),
    live_perturb_bps: Annotated[str | None, typer.Option(help="Also send each signal as a live fill (source "
                                                              "live) at the backtest price moved by a seeded "
                                                              "uniform draw within +/- this many basis points.")] = None,
    live_seed: Annotated[str, typer.Option(help="Seed of the live prices (same seed, same prices).")] = "0",
    run_id: Annotated[str | None, typer.Option(help="Run id of the idempotency keys, signal and execution ids "
                                                    "(default: random; the same id re-sends the same calls).")] = None,
) -> None:
    """Replay a strategy over OHLCV bars through the running service over HTTP (backtest
    trades at the bars' prices and dates; no quote is published), then print the metrics
    and write an HTML report. Without --token, an emulator token is made (emulator mode only).
    With any cost option, the strategy's cost model is set to those values (the others 0)
    with PUT /strategies/{id}/costs before the first fill. With --live-perturb-bps, each
    execute and close is also sent as a live fill of the same signal_id at a perturbed price."""

    console = Console()
    names = symbol or [p.stem.split("-")[0].upper() for p in csv_files]
    if len(names) != len(csv_files):
        raise typer.BadParameter("give one --symbol per file", param_hint="--symbol")
    series = {}
    for name, path in zip(names, csv_files):
        try:
            bars = read_ohlcv(path)
        except ValueError as exc:
            raise typer.BadParameter(str(exc), param_hint="CSV_FILES") from exc
        series[name] = [b for b in bars if (not start or b.day.isoformat() >= start) and (not end or b.day.isoformat() <= end)]
    options = {"fast": fast, "slow": slow, "long_short": long_short,
               "stop_loss_percent": _decimal_or_none(stop_loss_percent, "--stop-loss-percent"),
               "take_profit_percent": _decimal_or_none(take_profit_percent, "--take-profit-percent")}
    costs = costs_of_options(commission_per_order=commission_per_order, commission_per_unit=commission_per_unit,
                             commission_percent=commission_percent, commission_min=commission_min,
                             commission_max=commission_max, slippage_bps=slippage_bps)
    live = live_perturbation_of_options(live_perturb_bps, live_seed)
    try:
        load_strategy(strategy, **options)  # fail before any call
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--strategy") from exc
    user = uid or "replay-" + datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S")
    token = user_token(token, user, "replay")

    async def run():
        async with httpx.AsyncClient(base_url=url, timeout=60) as client:
            with progress_bar(console) as progress:
                task = progress.add_task("replaying", total=sum(len(b) for b in series.values()))
                return await replay(
                    client, series=series, make_strategy=lambda: load_strategy(strategy, **options),
                    user_headers={"Authorization": f"Bearer {token}"}, uid=user,
                    notional=_decimal_or_none(notional, "--notional"), quantity=_decimal_or_none(quantity, "--quantity"),
                    costs=costs, live=live, run_id=run_id,
                    on_bar=lambda sym, bar: progress.update(task, advance=1, description=f"{sym} {bar.day}"),
                )

    try:
        result = asyncio.run(run())
    except (ServiceCallFailed, httpx.HTTPError) as exc:
        typer.echo(f"replay: {exc}", err=True)
        raise typer.Exit(1) from exc
    console.print(summary_table(result))
    console.print(costs_table(result))
    path = write_report(result, report)
    typer.echo(f"report: {path.resolve()}")


def progress_bar(console: Console) -> Progress:
    """The commands' progress bar: description, bar, done of total, time remaining."""
    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                    console=console)


@app.command("import-fills")
def import_fills_command(
    csv_file: Annotated[Path, typer.Argument(exists=True, dir_okay=False,
                                             help="Broker executions CSV (columns: docs/replay.md).")],
    url: Annotated[str, typer.Option(envvar="STRATEGY_SERVICE_URL", help="The running service.")] = "http://127.0.0.1:8000",
    uid: Annotated[str | None, typer.Option(help="Trading user of the emulator token (without --token).")] = None,
    token: Annotated[str | None, typer.Option(envvar="STRATEGY_SERVICE_TOKEN", help="The user's ID token.")] = None,
    attempts: Annotated[int, typer.Option(min=1, max=20, help="Attempts per row on a transient failure "
                                          "(429, 502-504, trade_busy, network), with backoff.")] = 5,
) -> None:
    """Record the broker executions of a CSV as live fills through the running service
    (open: POST /trades/execute, close: POST /trades/close-shadow, both source live), in
    file order, with the broker's execution_id as the idempotency key: importing the same
    file again changes nothing. A row repeating an earlier row's execution_id is refused
    (duplicate_execution_id) and not sent. Transient failures are retried (--attempts, with
    backoff and Retry-After); a row still failing stops the import. Prints every refused
    row (line, execution_id, code, message) and a summary; exits 1 when any row was
    refused or the import stopped, 2 when the file lacks a required column (nothing is
    sent). Without --token, an emulator token for --uid is made (emulator mode only)."""
    console = Console()
    try:
        fills, refused = read_fills(csv_file)
    except MissingColumns as exc:
        typer.echo(f"import-fills: {exc}", err=True)
        raise typer.Exit(2) from None
    if not token and not uid:
        typer.echo("import-fills: give --token, or --uid in emulator mode", err=True)
        raise typer.Exit(2)
    bearer = user_token(token, uid or "", "import-fills")
    started = datetime.now(timezone.utc)

    async def run():
        async with httpx.AsyncClient(base_url=url, timeout=60) as client:
            with progress_bar(console) as progress:
                task = progress.add_task("importing", total=len(fills))
                return await import_fills(
                    client, fills, user_headers={"Authorization": f"Bearer {bearer}"}, started=started,
                    on_row=lambda fill: progress.update(task, advance=1, description=f"line {fill.line}"),
                    retry=RetryPolicy(attempts=attempts))

    stopped: ImportAborted | None = None
    try:
        result = asyncio.run(run())
    except ImportAborted as exc:
        stopped, result = exc, exc.result or ImportResult(unsent=len(fills))
    result.refused[:0] = refused
    if result.refused:
        console.print(refused_table(result.refused))
    typer.echo(f"import-fills: {csv_file}: {result.summary()}")
    if stopped:
        typer.echo(f"import-fills: stopped at {stopped} (rows before it are recorded, rows after it were not "
                   "sent; re-running is safe)", err=True)
    if result.refused or stopped:
        raise typer.Exit(1)
