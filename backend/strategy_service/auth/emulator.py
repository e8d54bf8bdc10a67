"""Unsigned Firebase ID tokens for the emulators (local runs and tests only).

firebase-admin accepts them only while ``FIREBASE_AUTH_EMULATOR_HOST`` is set; the
Firestore emulator applies security rules to them (``request.auth.uid`` = ``sub``).
"""

from __future__ import annotations

import base64
import json
import time
from typing import Any


def _b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def make_emulator_token(
    uid: str,
    project_id: str,
    *,
    claims: dict[str, Any] | None = None,
    lifetime_seconds: int = 3600,
    **overrides: Any,
) -> str:
    """An ``alg: none`` ID token for ``uid`` with the audience and issuer of ``project_id``.

    Args:
        uid: the subject (1-128 characters).
        project_id: the Firebase project id (``aud``; ``iss`` is securetoken's for it).
        claims: custom claims (``{"role": "publisher"}``...).
        lifetime_seconds: ``exp - iat``.
        overrides: claims that replace the standard ones (tests of bad tokens).
    """
    now = int(time.time())
    payload: dict[str, Any] = {
        "aud": project_id,
        "iss": f"https://securetoken.google.com/{project_id}",
        "sub": uid,
        "user_id": uid,
        "iat": now,
        "auth_time": now,
        "exp": now + lifetime_seconds,
        **(claims or {}),
        **overrides,
    }
    return f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{_b64(payload)}."
