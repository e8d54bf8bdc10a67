"""The FastAPI application: the composition root. Its lifespan builds the storage client
and the services once per process; it mounts each domain's endpoints and the error
handlers."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from swagger_ui_bundle import swagger_ui_path

from . import __version__
from .api.deps import Services
from .api.errors import install_handlers
from .api.routing import RequestContextMiddleware
from .auth.firebase import firebase_app
from .config import Settings, get_settings
from .health import endpoints as health
from .performance import endpoints as performance
from .performance.maintenance import Maintenance
from .performance.repository import AggregateRepository
from .performance.service import PerformanceService
from .quotes import endpoints as quotes
from .quotes.repository import QuoteRepository
from .quotes.service import QuoteService
from .storage.client import Storage
from .strategies import endpoints as strategies
from .strategies.repository import StrategyRepository
from .strategies.service import StrategyService
from .trades import endpoints as trades
from .trades.repository import TradeRepository
from .trades.service import TradeService
from .trades.triggers import TriggerService
from .users import endpoints as users
from .users.repository import UserRepository
from .shortfall import endpoints as shortfall
from .shortfall.repository import ShortfallRepository
from .shortfall.service import ShortfallService
from .users.service import UserService
from .web import endpoints as web


def build_services(storage: Storage, settings: Settings) -> Services:
    """Wire the repositories and services of one process."""
    aggregate_repo, quote_repo, user_repo = AggregateRepository(storage), QuoteRepository(storage), UserRepository(storage)
    trade_repo = TradeRepository(storage, aggregate_repo)
    user_service = UserService(user_repo)
    quote_service = QuoteService(quote_repo)
    strategy_service = StrategyService(StrategyRepository(storage))
    performance_service = PerformanceService(aggregate_repo, trade_repo, quote_repo, user_service, strategy_service)
    signal_repo = ShortfallRepository(storage)
    maintenance = Maintenance(aggregate_repo, trade_repo, user_repo, user_service, performance_service,
                              grace_seconds=settings.REBUILD_GRACE_SECONDS, signals=signal_repo)
    user_service.on_timezone_change = maintenance.rebuild_in_background  # days are dates in the trading zone
    trade_service = TradeService(trade_repo, aggregate_repo, settings)
    triggers = TriggerService(trade_service, settings)
    quote_service.on_publish = triggers.on_quote  # a published quote exits the trades it reaches
    return Services(
        storage=storage,
        trades=trade_service,
        triggers=triggers,
        quotes=quote_service,
        users=user_service,
        performance=performance_service,
        maintenance=maintenance,
        strategies=strategy_service,
        shortfall=ShortfallService(signal_repo, user_service, performance_service, aggregate_repo),
    )


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the app.

    Args:
        settings: the settings to use (tests pass their own); default: from the environment.

    Raises:
        ValueError: when the settings are unsafe (emulator variables in production).
    """
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        storage = Storage.connect(settings.GOOGLE_CLOUD_PROJECT, timeout_seconds=settings.FIRESTORE_TIMEOUT_SECONDS,
                                  retry_after_seconds=settings.RETRY_AFTER_SECONDS)
        app.state.services = build_services(storage, settings)
        app.state.firebase_app = firebase_app(settings.GOOGLE_CLOUD_PROJECT)
        try:
            yield
        finally:
            await app.state.services.triggers.drain()  # closes a publish stopped waiting for
            storage.close()

    app = FastAPI(
        title="Strategy Service",
        version=__version__,
        description="Shadow (paper) trading at live quotes with exact Decimal P&L and metrics.",
        lifespan=lifespan,
        docs_url=None,  # served below from a package: the page works without internet
        redoc_url=None,
    )
    app.mount("/docs-assets", StaticFiles(directory=str(swagger_ui_path)), name="docs-assets")

    @app.get("/docs", include_in_schema=False)
    async def swagger_ui() -> HTMLResponse:
        return get_swagger_ui_html(openapi_url=app.openapi_url or "/openapi.json", title=f"{app.title} - API",
                                   swagger_js_url="/docs-assets/swagger-ui-bundle.js",
                                   swagger_css_url="/docs-assets/swagger-ui.css",
                                   swagger_favicon_url="/docs-assets/favicon-32x32.png")
    app.state.settings = settings
    app.add_middleware(RequestContextMiddleware, max_body_bytes=settings.MAX_BODY_BYTES)
    app.include_router(health.router)
    app.include_router(performance.router)  # before trades: /trades/shadow/metrics is not a trade id
    app.include_router(shortfall.router)
    app.include_router(trades.router)
    app.include_router(quotes.router)
    app.include_router(users.router)
    app.include_router(strategies.router)
    app.include_router(strategies.defaults_router)
    app.include_router(web.router)  # the dashboard page at / (web/)
    install_handlers(app)
    return app


app = create_app()
