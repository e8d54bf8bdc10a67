"""Liveness and readiness probes."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from ..api.deps import ServicesDep
from ..api.errors import responses
from ..core.errors import StorageUnavailable

router = APIRouter(tags=["health"])


@router.get("/healthz", summary="The process is alive")
async def healthz() -> dict[str, str]:
    """Always 200 while the process serves requests."""
    return {"status": "ok"}


@router.get("/readyz", summary="Firestore is reachable", responses=responses(StorageUnavailable, authenticated=False))
async def readyz(services: ServicesDep) -> dict[str, Any]:
    """200 when a Firestore read succeeds within 3 s, else 503 ``storage_unavailable``."""
    try:
        await services.storage.ping()
    except Exception as exc:  # any failure of the probe read means not ready
        raise StorageUnavailable("Firestore is not reachable.", headers={"Retry-After": "1"}) from exc
    return {"status": "ready"}
