"""The ``strategy-service`` command: serve the API, publish quotes, run mark-to-market,
rebuild and verify aggregates. Client commands that drive the API over HTTP (``replay``)
come from the ``strategy_client`` package when its extra is installed (entry points of
the group ``strategy_service.commands``)."""

from __future__ import annotations

import asyncio
import csv
import json
import os
from collections.abc import Awaitable, Callable
from importlib.metadata import entry_points
from pathlib import Path
from typing import Annotated, TypeVar

import typer

from .api.deps import Services
from .config import get_settings
from .core.errors import ServiceError
from .core.money import optional_decimal
from .storage.client import Storage

app = typer.Typer(help="Strategy Service: shadow trading at live quotes.", no_args_is_help=True)
quotes_app = typer.Typer(help="Publish live quotes to Firestore (local runs, schedulers).", no_args_is_help=True)
app.add_typer(quotes_app, name="quotes")

T = TypeVar("T")


def _run_with_services(work: Callable[[Services], Awaitable[T]]) -> T:
    from .main import build_services

    settings = get_settings()

    async def main() -> T:
        storage = Storage.connect(settings.GOOGLE_CLOUD_PROJECT, timeout_seconds=settings.FIRESTORE_TIMEOUT_SECONDS)
        services = build_services(storage, settings)
        try:
            return await work(services)
        finally:
            await services.triggers.drain()  # exits a publish stopped waiting for finish first
            storage.close()

    try:
        return asyncio.run(main())
    except ServiceError as exc:  # one line a person reads, not a traceback
        typer.echo(f"strategy-service: {exc.code}: {exc.message}", err=True)
        raise typer.Exit(2) from None


def _decimal_or_none(value: str | None, name: str):
    try:
        return optional_decimal(value, field=name)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint=name) from exc


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to bind.")] = "0.0.0.0",
    port: Annotated[int, typer.Option(envvar="PORT", help="Port (Cloud Run sets PORT).")] = 8000,
    workers: Annotated[int, typer.Option(help="Worker processes.")] = 1,
) -> None:
    """Serve the HTTP API with uvicorn (refuses to start with emulator variables in production)."""
    import uvicorn

    from .api.logging import configure_logging

    settings = get_settings()  # raises on unsafe settings before binding the port
    try:  # no Firestore to talk to: say so in one line, before binding the port
        Storage.connect(settings.GOOGLE_CLOUD_PROJECT, timeout_seconds=settings.FIRESTORE_TIMEOUT_SECONDS).close()
    except ServiceError as exc:
        typer.echo(f"strategy-service: {exc.code}: {exc.message}", err=True)
        raise typer.Exit(2) from None
    configure_logging(settings.LOG_LEVEL)
    uvicorn.run("backend.strategy_service.main:app", host=host, port=port, workers=workers, access_log=False,
                log_config=None, proxy_headers=True)


@app.command()
def token(
    uid: Annotated[str, typer.Argument(help="The user id to act as.")],
    publisher: Annotated[bool, typer.Option(help="Add the publisher role claim.")] = False,
) -> None:
    """Print an unsigned ID token for the emulators (refused outside emulator mode)."""
    from .auth.emulator import make_emulator_token

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
    quote = _run_with_services(lambda services: services.quotes.publish(symbol, bid=b, ask=a, price=p))
    typer.echo(json.dumps(quote.as_json()))


@quotes_app.command("load")
def quotes_load(
    path: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="CSV with symbol,bid,ask,price.")],
) -> None:
    """Publish every row of a CSV (header ``symbol,bid,ask,price``; empty cells allowed)."""
    with path.open(newline="") as handle:
        rows = list(csv.DictReader(handle))

    async def work(services: Services) -> int:
        for row in rows:
            await services.quotes.publish(
                row["symbol"],
                bid=_decimal_or_none(row.get("bid"), "bid"),
                ask=_decimal_or_none(row.get("ask"), "ask"),
                price=_decimal_or_none(row.get("price"), "price"),
            )
        return len(rows)

    count = _run_with_services(work)
    typer.echo(f"published {count} quotes")


@app.command("mark-to-market")
def mark_to_market_command(
    batch_size: Annotated[int | None, typer.Option(help="OPEN trades per round.")] = None,
) -> None:
    """Refresh current price and unrealized P&L of every OPEN trade, and exit those whose stop,
    target or trailing stop the quote reaches (run it every minute)."""
    settings = get_settings()
    size = batch_size or settings.MARK_TO_MARKET_BATCH_SIZE
    from .quotes.repository import QuoteRepository
    from .trades.marking import mark_to_market

    result = _run_with_services(lambda services: mark_to_market(
        services.trades.trades, QuoteRepository(services.storage), batch_size=size,
        max_quote_age_seconds=settings.MAX_QUOTE_AGE_SECONDS, triggers=services.triggers))
    typer.echo(json.dumps(result.__dict__))


@app.command("metrics-json")
def metrics_json(
    uid: Annotated[str, typer.Argument(help="The user whose metrics to write.")],
    out: Annotated[Path, typer.Option(help="Output file.")] = Path("metrics.json"),
) -> None:
    """Write a user's per-trade metrics record (``/api/metrics``) as ``metrics.json``."""
    import simplejson

    record = _run_with_services(lambda services: services.performance.api_metrics(uid))
    out.write_text(simplejson.dumps(record, use_decimal=True, indent=2) + "\n")
    typer.echo(f"wrote {out}")


@app.command()
def rebuild(uid: Annotated[str, typer.Argument(help="The user whose aggregates to rebuild.")]) -> None:
    """Recompute a user's aggregates (cells, close sequences, summary) from their trade
    history and replace the stored ones. Run it while the user closes no trade."""
    result = _run_with_services(lambda services: services.maintenance.rebuild(uid))
    typer.echo(f"rebuilt {uid}: " + ", ".join(f"{k}={v}" for k, v in result.items()))


@app.command()
def verify(uid: Annotated[str, typer.Argument(help="The user whose aggregates to check.")]) -> None:
    """Compare a user's stored aggregates and served metrics with a full recomputation
    from history; print every difference and exit 1 if there is any."""
    async def work(services: Services) -> list[str] | None:
        if not await services.trades.list(uid, status=None, limit=1, after_id=None):
            return None
        return await services.maintenance.verify(uid)

    differences = _run_with_services(work)
    if differences is None:
        typer.echo(f"verify {uid}: the user has no trades: there is nothing to compare")
        return
    for line in differences:
        typer.echo(line)
    if differences:
        typer.echo(f"verify {uid}: {len(differences)} difference(s)", err=True)
        raise typer.Exit(1)
    typer.echo(f"verify {uid}: aggregates equal a full recomputation")


@app.command("shadow-mode")
def shadow_mode(enabled: Annotated[bool, typer.Argument(help="true: shadow fills; false: paper orders.")]) -> None:
    """Set ``systemStatus/config.is_shadow_mode``."""
    _run_with_services(lambda services: services.trades.trades.set_shadow_mode(enabled))
    typer.echo(f"is_shadow_mode = {enabled}")


def add_client_commands(cli: typer.Typer) -> None:
    """Add the commands of installed client packages (entry points of the group
    ``strategy_service.commands``: a ``typer.Typer`` whose commands join this CLI). A
    package whose optional dependencies are missing is skipped: the server image has none."""
    for ep in entry_points(group="strategy_service.commands"):
        try:
            cli.add_typer(ep.load())
        except ImportError:
            continue


def main() -> None:
    """Console-script entry point."""
    os.environ.setdefault("GOOGLE_CLOUD_PROJECT", "demo-strategy-service")
    add_client_commands(app)
    app()
