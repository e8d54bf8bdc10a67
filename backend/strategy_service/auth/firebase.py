"""Firebase ID token verification: the uid of every request comes from its token only."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import firebase_admin
import firebase_admin.exceptions
import google.auth.exceptions
from firebase_admin import auth as firebase_auth

from ..core.errors import AuthUnavailable, InvalidToken, Unauthenticated

_APP_NAME = "strategy-service"


@dataclass(frozen=True)
class Principal:
    """The authenticated caller.

    Attributes:
        uid: Firebase uid (the token's ``sub``).
        claims: every claim of the verified token (custom claims included).
    """

    uid: str
    claims: dict[str, Any] = field(default_factory=dict)

    def has_role(self, role: str) -> bool:
        """True when the token's ``role`` claim, or one of its ``roles``, is ``role``."""
        roles = self.claims.get("roles")
        return self.claims.get("role") == role or (isinstance(roles, list) and role in roles)


def firebase_app(project_id: str) -> firebase_admin.App:
    """The firebase-admin app of this process for ``project_id`` (created once)."""
    name = f"{_APP_NAME}:{project_id}"
    try:
        return firebase_admin.get_app(name)
    except ValueError:
        return firebase_admin.initialize_app(options={"projectId": project_id}, name=name)


def verify_bearer(authorization: str | None, app: firebase_admin.App) -> Principal:
    """Verify an ``Authorization: Bearer <Firebase ID token>`` header.

    Blocking (firebase-admin may fetch Google's public keys): call it from a thread.

    Args:
        authorization: the header's value, or None.
        app: the firebase-admin app (its project id is the expected audience).

    Returns:
        The :class:`Principal` of the token.

    Raises:
        Unauthenticated: missing header, or not a Bearer token.
        InvalidToken: a token that firebase-admin rejects (signature, expiry, audience,
            issuer, subject).
        AuthUnavailable: (503) when Google's public keys cannot be fetched.
    """
    if not authorization:
        raise Unauthenticated("An Authorization: Bearer <Firebase ID token> header is required.")
    scheme, _, token = authorization.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise Unauthenticated("The Authorization header must be 'Bearer <Firebase ID token>'.")
    try:
        claims = firebase_auth.verify_id_token(token, app=app)
    except (firebase_auth.CertificateFetchError, google.auth.exceptions.DefaultCredentialsError) as exc:
        # our failure (keys unreachable, no credentials), not the caller's: retryable
        raise AuthUnavailable(
            "Token keys cannot be fetched right now; retry after the delay given in Retry-After.",
            headers={"Retry-After": "5"},
        ) from exc
    except (ValueError, firebase_auth.InvalidIdTokenError, firebase_admin.exceptions.FirebaseError) as exc:
        raise InvalidToken("The ID token is invalid or expired.") from exc
    uid = claims.get("uid") or claims.get("sub")
    if not isinstance(uid, str) or not uid:
        raise InvalidToken("The ID token has no subject.")
    return Principal(uid=uid, claims=dict(claims))
