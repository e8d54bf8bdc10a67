"""FastAPI dependencies as ``Annotated`` aliases: the store, the settings, the caller."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from .auth import Principal, verify_bearer
from .config import Settings
from .errors import NotPermitted
from .repository import Store

_bearer = HTTPBearer(auto_error=False, description="A Firebase ID token.")


def get_store(request: Request) -> Store:
    """The process's :class:`Store`, built in the app lifespan."""
    return request.app.state.store


def get_app_settings(request: Request) -> Settings:
    """The settings the app was built with."""
    return request.app.state.settings


def current_principal(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    """The caller, from ``Authorization: Bearer <Firebase ID token>`` (runs in a thread:
    verification may fetch Google's keys).

    Raises:
        Unauthenticated: no token, or an invalid one (401).
    """
    header = request.headers.get("authorization") if credentials is None else f"Bearer {credentials.credentials}"
    return verify_bearer(header, request.app.state.firebase_app)


def publisher_principal(
    principal: Annotated[Principal, Depends(current_principal)],
    settings: Annotated[Settings, Depends(get_app_settings)],
) -> Principal:
    """The caller, who must carry the publisher role claim.

    Raises:
        NotPermitted: 403 ``publisher_role_required``.
    """
    if not principal.has_role(settings.PUBLISHER_ROLE):
        raise NotPermitted(
            f"Publishing quotes needs the '{settings.PUBLISHER_ROLE}' role claim.",
            code="publisher_role_required",
        )
    return principal


StoreDep = Annotated[Store, Depends(get_store)]
SettingsDep = Annotated[Settings, Depends(get_app_settings)]
CurrentUser = Annotated[Principal, Depends(current_principal)]
Publisher = Annotated[Principal, Depends(publisher_principal)]
