"""The ``strategy-service`` command: serve the API, publish quotes, run mark-to-market."""

from __future__ import annotations

import asyncio
import csv
import os
from datetime import datetime, timezone
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated, TypeVar

import typer
from google.cloud import firestore

from .config import get_settings
from .errors import ServiceError
from .marking import mark_to_market
from .money import to_decimal
from .quotes import publish_quote
from .repository import Store

app = typer.Typer(help="Strategy Service: shadow trading at live quotes.", no_args_is_help=True)
quotes_app = typer.Typer(help="Publish live quotes to Firestore (local runs, schedulers).", no_args_is_help=True)
app.add_typer(quotes_app, name="quotes")

T = TypeVar("T")


def _run_with_store(work: Callable[[Store], Awaitable[T]]) -> T:
    settings = get_settings()

    async def main() -> T:
        client = firestore.AsyncClient(project=settings.GOOGLE_CLOUD_PROJECT)
        try:
            return await work(Store(client, timeout_seconds=settings.FIRESTORE_TIMEOUT_SECONDS))
        finally:
            client.close()

    return asyncio.run(main())


def _decimal_or_none(value: str | None, name: str):
    if value is None or value == "":
        return None
    try:
        return to_decimal(value, field=name)
    except (TypeError, ValueError) as exc:
        raise typer.BadParameter(str(exc), param_hint=name) from exc


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to bind.")] = "0.0.0.0",
    port: Annotated[int, typer.Option(envvar="PORT", help="Port (Cloud Run sets PORT).")] = 8000,
    workers: Annotated[int, typer.Option(help="Worker processes.")] = 1,
) -> None:
    """Serve the HTTP API with uvicorn (refuses to start with emulator variables in production)."""
    import uvicorn

    from .logging_setup import configure_logging

    settings = get_settings()  # raises on unsafe settings before binding the port
    configure_logging(settings.LOG_LEVEL)
    uvicorn.run("backend.strategy_service.main:app", host=host, port=port, workers=workers, access_log=False,
                log_config=None, proxy_headers=True)


@app.command()
def token(
    uid: Annotated[str, typer.Argument(help="The user id to act as.")],
    publisher: Annotated[bool, typer.Option(help="Add the publisher role claim.")] = False,
) -> None:
    """Print an unsigned ID token for the emulators (refused outside emulator mode)."""
    from .emulator_tokens import make_emulator_token

    settings = get_settings()
    if not settings.FIREBASE_AUTH_EMULATOR_HOST:
        typer.echo("token: only with FIREBASE_AUTH_EMULATOR_HOST set (emulator mode)", err=True)
        raise typer.Exit(2)
    claims = {"role": settings.PUBLISHER_ROLE} if publisher else None
    typer.echo(make_emulator_token(uid, settings.GOOGLE_CLOUD_PROJECT, claims=claims))


@quotes_app.command("publish")
def quotes_publish(
    symbol: Annotated[str, typer.Argument(help="Ticker, e.g. AAPL.")],
    bid: Annotated[str | None, typer.Option(help="Bid, USD.")] = None,
    ask: Annotated[str | None, typer.Option(help="Ask, USD.")] = None,
    price: Annotated[str | None, typer.Option(help="Last price, USD.")] = None,
) -> None:
    """Publish one quote to ``live_quotes/{SYMBOL}``."""
    b, a, p = _decimal_or_none(bid, "bid"), _decimal_or_none(ask, "ask"), _decimal_or_none(price, "price")
    try:
        quote = _run_with_store(lambda store: publish_quote(store, symbol, bid=b, ask=a, price=p))
    except ServiceError as exc:
        typer.echo(f"quotes publish: {exc.code}: {exc.message}", err=True)
        raise typer.Exit(2) from exc
    typer.echo(quote.as_json())


@quotes_app.command("load")
def quotes_load(
    path: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="CSV with symbol,bid,ask,price.")],
) -> None:
    """Publish every row of a CSV (header ``symbol,bid,ask,price``; empty cells allowed)."""
    with path.open(newline="") as handle:
        rows = list(csv.DictReader(handle))

    async def work(store: Store) -> int:
        for row in rows:
            await publish_quote(
                store,
                row["symbol"],
                bid=_decimal_or_none(row.get("bid"), "bid"),
                ask=_decimal_or_none(row.get("ask"), "ask"),
                price=_decimal_or_none(row.get("price"), "price"),
            )
        return len(rows)

    try:
        count = _run_with_store(work)
    except ServiceError as exc:
        typer.echo(f"quotes load: {exc.code}: {exc.message}", err=True)
        raise typer.Exit(2) from exc
    typer.echo(f"published {count} quotes")


@app.command("mark-to-market")
def mark_to_market_command(
    batch_size: Annotated[int | None, typer.Option(help="OPEN trades per round.")] = None,
) -> None:
    """Refresh current price and unrealized P&L of every OPEN trade (run it every minute)."""
    settings = get_settings()
    size = batch_size or settings.MARK_TO_MARKET_BATCH_SIZE
    result = _run_with_store(
        lambda store: mark_to_market(store, batch_size=size, max_quote_age_seconds=settings.MAX_QUOTE_AGE_SECONDS)
    )
    typer.echo(result.__dict__)


@app.command("metrics-json")
def metrics_json(
    uid: Annotated[str, typer.Argument(help="The user whose metrics to write.")],
    out: Annotated[Path, typer.Option(help="Output file.")] = Path("metrics.json"),
) -> None:
    """Write a user's metrics record (story 4.3.2) as ``metrics.json``."""
    import simplejson

    from .dashboard_service import metrics_record_view

    record = _run_with_store(lambda store: store.get_metrics_record(uid))
    out.write_text(simplejson.dumps(metrics_record_view(record), use_decimal=True, indent=2) + "\n")
    typer.echo(f"wrote {out}")


@app.command()
def rebuild(uid: Annotated[str, typer.Argument(help="The user whose aggregates to rebuild.")]) -> None:
    """Recompute a user's aggregates (cells, close sequences, summary) from their trade
    history and replace the stored ones. Run it while the user closes no trade."""
    from .dashboard_service import rebuild_aggregates

    result = _run_with_store(lambda store: rebuild_aggregates(store, uid))
    typer.echo(f"rebuilt {uid}: " + ", ".join(f"{k}={v}" for k, v in result.items()))


@app.command()
def verify(uid: Annotated[str, typer.Argument(help="The user whose aggregates to check.")]) -> None:
    """Compare a user's stored aggregates and served metrics with a full recomputation
    from history; print every difference and exit 1 if there is any."""
    from .dashboard_service import verify_aggregates

    differences = _run_with_store(lambda store: verify_aggregates(store, uid))
    for line in differences:
        typer.echo(line)
    if differences:
        typer.echo(f"verify {uid}: {len(differences)} difference(s)", err=True)
        raise typer.Exit(1)
    typer.echo(f"verify {uid}: aggregates equal a full recomputation")


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
    notional: Annotated[str, typer.Option(help="USD per entry.")] = "10000",
    quantity: Annotated[str | None, typer.Option(help="Units per entry (instead of --notional).")] = None,
    start: Annotated[str | None, typer.Option(help="First bar date (YYYY-MM-DD).")] = None,
    end: Annotated[str | None, typer.Option(help="Last bar date (YYYY-MM-DD).")] = None,
    uid: Annotated[str | None, typer.Option(help="Trading user (default: replay-<time>, a fresh user per run).")] = None,
    token: Annotated[str | None, typer.Option(envvar="STRATEGY_SERVICE_TOKEN", help="The user's ID token.")] = None,
    publisher_token: Annotated[str | None, typer.Option(envvar="STRATEGY_SERVICE_PUBLISHER_TOKEN",
                                                        help="A publisher's ID token (quotes).")] = None,
    report: Annotated[Path, typer.Option(help="HTML report path.")] = Path("reports/replay.html"),
) -> None:
    """Replay a strategy over OHLCV bars through the running service over HTTP (bars as
    quotes, backtest trades at the bars' prices and dates), then print the metrics and
    write an HTML report. Without tokens, emulator tokens are made (emulator mode only)."""
    import httpx
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    from .replay import ServiceCallFailed, load_strategy, read_ohlcv, replay
    from .replay_report import summary_table, write_report

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
               "stop_loss_percent": _decimal_or_none(stop_loss_percent, "--stop-loss-percent")}
    try:
        load_strategy(strategy, **options)  # fail before any call
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--strategy") from exc
    settings = get_settings()
    user = uid or "replay-" + datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S")
    if not token or not publisher_token:
        if not settings.FIREBASE_AUTH_EMULATOR_HOST:
            typer.echo("replay: give --token and --publisher-token (emulator tokens only in emulator mode)", err=True)
            raise typer.Exit(2)
        from .emulator_tokens import make_emulator_token

        project = settings.GOOGLE_CLOUD_PROJECT
        token = token or make_emulator_token(user, project)
        publisher_token = publisher_token or make_emulator_token("replay-feed", project, claims={"role": settings.PUBLISHER_ROLE})

    async def run():
        async with httpx.AsyncClient(base_url=url, timeout=60) as client:
            with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                          console=console) as progress:
                task = progress.add_task("replaying", total=sum(len(b) for b in series.values()))
                return await replay(
                    client, series=series, make_strategy=lambda: load_strategy(strategy, **options),
                    user_headers={"Authorization": f"Bearer {token}"},
                    publisher_headers={"Authorization": f"Bearer {publisher_token}"}, uid=user,
                    notional=_decimal_or_none(notional, "--notional"), quantity=_decimal_or_none(quantity, "--quantity"),
                    on_bar=lambda sym, bar: progress.update(task, advance=1, description=f"{sym} {bar.day}"),
                )

    try:
        result = asyncio.run(run())
    except (ServiceCallFailed, httpx.HTTPError) as exc:
        typer.echo(f"replay: {exc}", err=True)
        raise typer.Exit(1) from exc
    console.print(summary_table(result))
    path = write_report(result, report)
    typer.echo(f"report: {path.resolve()}")


@app.command("shadow-mode")
def shadow_mode(enabled: Annotated[bool, typer.Argument(help="true: shadow fills; false: paper orders.")]) -> None:
    """Set ``systemStatus/config.is_shadow_mode``."""
    _run_with_store(lambda store: store.set_shadow_mode(enabled))
    typer.echo(f"is_shadow_mode = {enabled}")


def main() -> None:
    """Console-script entry point."""
    os.environ.setdefault("GOOGLE_CLOUD_PROJECT", "demo-strategy-service")
    app()
