"""FastAPI dependencies as ``Annotated`` aliases: the services, the settings, the caller.

The services are built once per process in the app's lifespan (``main.py``) and handed
out here; tests reach them through ``app.state.services``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from ..auth.firebase import Principal, verify_bearer
from ..config import Settings
from ..performance.maintenance import Maintenance
from ..performance.service import PerformanceService
from ..quotes.errors import PublisherRoleRequired
from ..quotes.service import QuoteService
from ..storage.client import Storage
from ..shortfall.service import ShortfallService
from ..strategies.service import StrategyService
from ..trades.service import TradeService
from ..trades.triggers import TriggerService
from ..users.service import UserService

_bearer = HTTPBearer(auto_error=False, description="A Firebase ID token.")


@dataclass
class Services:
    """Every service of the process (and the storage they share)."""

    storage: Storage
    trades: TradeService
    triggers: TriggerService
    quotes: QuoteService
    users: UserService
    performance: PerformanceService
    maintenance: Maintenance
    strategies: StrategyService
    shortfall: ShortfallService


async def get_services(request: Request) -> Services:
    """The process's :class:`Services`, built in the app lifespan."""
    return request.app.state.services


async def get_app_settings(request: Request) -> Settings:
    """The settings the app was built with."""
    return request.app.state.settings


async def current_principal(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    """The caller, from ``Authorization: Bearer <Firebase ID token>``.

    Verified on the event loop, without a thread-pool hop (decision D20): the check is a
    few microseconds of CPU, and the one blocking step, fetching Google's public keys when
    firebase-admin's cache has expired (hours), happens at most once per cache lifetime.

    Raises:
        Unauthenticated, InvalidToken (401); AuthUnavailable (503).
    """
    header = request.headers.get("authorization") if credentials is None else f"Bearer {credentials.credentials}"
    return verify_bearer(header, request.app.state.firebase_app)


async def publisher_principal(
    principal: Annotated[Principal, Depends(current_principal)],
    settings: Annotated[Settings, Depends(get_app_settings)],
) -> Principal:
    """The caller, who must carry the publisher role claim.

    Raises:
        PublisherRoleRequired: 403.
    """
    if not principal.has_role(settings.PUBLISHER_ROLE):
        raise PublisherRoleRequired(f"Publishing quotes needs the '{settings.PUBLISHER_ROLE}' role claim.")
    return principal


ServicesDep = Annotated[Services, Depends(get_services)]
SettingsDep = Annotated[Settings, Depends(get_app_settings)]
CurrentUser = Annotated[Principal, Depends(current_principal)]
Publisher = Annotated[Principal, Depends(publisher_principal)]


async def _trades(services: ServicesDep) -> TradeService:
    return services.trades


async def _quotes(services: ServicesDep) -> QuoteService:
    return services.quotes


async def _users(services: ServicesDep) -> UserService:
    return services.users


async def _performance(services: ServicesDep) -> PerformanceService:
    return services.performance


async def _strategies(services: ServicesDep) -> StrategyService:
    return services.strategies


async def _shortfall(services: ServicesDep) -> ShortfallService:
    return services.shortfall


TradesDep = Annotated[TradeService, Depends(_trades)]
QuotesDep = Annotated[QuoteService, Depends(_quotes)]
UsersDep = Annotated[UserService, Depends(_users)]
PerformanceDep = Annotated[PerformanceService, Depends(_performance)]
StrategiesDep = Annotated[StrategyService, Depends(_strategies)]
ShortfallDep = Annotated[ShortfallService, Depends(_shortfall)]
