"""Serves the web dashboard: the page at ``/``, the esbuild bundle under ``/static/`` and
``/web/config.json`` (what the page needs to reach Firebase Auth and Firestore).

The bundle is built from ``web/`` by ``scripts/setup`` (``npm ci && npm run build``) into
``static/`` beside this module; it is not in git. Without it, ``/`` answers 503 with the
command that builds it.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, Response

from ..api.deps import SettingsDep
from ..config import Settings
from ..core.errors import ResourceNotFound

STATIC_DIR = Path(__file__).parent / "static"
_ASSET_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,100}$")
_MEDIA_TYPES = {".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8",
                ".map": "application/json", ".svg": "image/svg+xml", ".png": "image/png",
                ".html": "text/html; charset=utf-8"}

router = APIRouter(tags=["web"], include_in_schema=False)


def web_config(settings: Settings) -> dict[str, Any]:
    """The page's configuration: Firebase project, API key, and the emulator addresses
    (``None`` in production, where the page talks to Firebase itself)."""
    project = settings.GOOGLE_CLOUD_PROJECT
    auth_host = settings.FIREBASE_AUTH_EMULATOR_HOST
    return {
        "project_id": project,
        "api_key": settings.FIREBASE_WEB_API_KEY,
        "auth_domain": settings.FIREBASE_AUTH_DOMAIN or f"{project}.firebaseapp.com",
        "auth_emulator_url": f"http://{auth_host}" if auth_host else None,
        "firestore_emulator_host": settings.FIRESTORE_EMULATOR_HOST,
        "google_sign_in": settings.WEB_GOOGLE_SIGN_IN,
    }


_NOT_BUILT = """<!doctype html><html lang="en"><meta charset="utf-8"><title>Dashboard not built</title>
<body style="font-family:sans-serif;max-width:40em;margin:3em auto">
<h1>The dashboard is not built</h1>
<p>The page's JavaScript bundle is missing from <code>backend/strategy_service/web/static/</code>.
Build it with <code>scripts/setup</code> (needs Node 20 and npm), or by hand:
<code>cd web &amp;&amp; npm ci &amp;&amp; npm run build</code>. The API itself works: see <a href="/docs">/docs</a>.</p>
</body></html>"""


@router.get("/", response_class=HTMLResponse)
async def dashboard_page() -> Response:
    """The dashboard page (503 with build instructions when the bundle is missing)."""
    page = STATIC_DIR / "index.html"
    if not page.is_file():
        return HTMLResponse(_NOT_BUILT, status_code=503)
    return FileResponse(page, media_type="text/html; charset=utf-8", headers={"Cache-Control": "no-cache"})


@router.get("/web/config.json")
async def dashboard_config(settings: SettingsDep) -> JSONResponse:
    """Firebase project id, web API key, auth domain and emulator addresses for the page."""
    return JSONResponse(web_config(settings), headers={"Cache-Control": "no-cache"})


@router.get("/static/{name}")
async def static_asset(name: str, request: Request) -> Response:
    """One file of the bundle (a flat folder), gzip-compressed when the build made a
    ``.gz`` beside it and the browser accepts gzip."""
    path = STATIC_DIR / name
    if not _ASSET_NAME.match(name) or ".." in name or not path.is_file():
        raise ResourceNotFound(f"No asset {name!r}.")
    media_type = _MEDIA_TYPES.get(path.suffix, "application/octet-stream")
    headers = {"Cache-Control": "no-cache", "Vary": "Accept-Encoding"}
    gz = path.with_name(name + ".gz")
    if "gzip" in request.headers.get("accept-encoding", "") and gz.is_file():
        return FileResponse(gz, media_type=media_type, headers={**headers, "Content-Encoding": "gzip"})
    return FileResponse(path, media_type=media_type, headers=headers)
