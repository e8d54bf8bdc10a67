"""Token checks outside emulator mode (no FIREBASE_AUTH_EMULATOR_HOST): real RS256
verification by firebase-admin. Google's public keys are replaced by a key pair made
here (the machine has no internet), so signed, expired, foreign-signed and unsigned tokens
can all be tried for real."""

from __future__ import annotations

import base64
import json
import time
from datetime import datetime, timedelta, timezone

import google.auth
import google.oauth2.id_token
from google.auth.credentials import AnonymousCredentials
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from google.auth import crypt, jwt


def _key_and_cert():
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "securetoken test")])
    now = datetime.now(timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - timedelta(days=1))
            .not_valid_after(now + timedelta(days=1)).sign(key, hashes.SHA256()))
    pem_key = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption()).decode()
    return pem_key, cert.public_bytes(serialization.Encoding.PEM).decode()


KEY, CERT = _key_and_cert()
OTHER_KEY, _ = _key_and_cert()


@pytest.fixture
def production_auth(monkeypatch, project_id):
    monkeypatch.delenv("FIREBASE_AUTH_EMULATOR_HOST", raising=False)
    # no Google credentials on this machine: firebase-admin's client gets anonymous ones
    monkeypatch.setattr(google.auth, "default", lambda *a, **k: (AnonymousCredentials(), project_id))
    monkeypatch.setattr(google.oauth2.id_token, "_fetch_certs", lambda request, url: {"k1": CERT})


def signed(project, *, key=KEY, kid="k1", **overrides):
    now = int(time.time())
    claims = {"aud": project, "iss": f"https://securetoken.google.com/{project}", "sub": "alice",
              "iat": now - 60, "exp": now + 3600, "auth_time": now - 60, **overrides}
    return jwt.encode(crypt.RSASigner.from_string(key, key_id=kid), claims).decode()


def unsigned(project):
    enc = lambda d: base64.urlsafe_b64encode(json.dumps(d).encode()).rstrip(b"=").decode()
    now = int(time.time())
    return f"{enc({'alg': 'none', 'typ': 'JWT'})}.{enc({'aud': project, 'iss': f'https://securetoken.google.com/{project}', 'sub': 'alice', 'iat': now, 'exp': now + 3600})}."


class TestTokensOutsideEmulatorMode:
    async def test_unauthenticated_is_401(self, client, production_auth):
        r = await client.get("/trades/shadow")
        assert r.status_code == 401 and r.json()["error"]["code"] == "unauthenticated"

    async def test_a_correctly_signed_token_is_accepted(self, client, production_auth, project_id):
        r = await client.get("/trades/shadow", headers={"Authorization": f"Bearer {signed(project_id)}"})
        assert r.status_code == 200, r.text

    @pytest.mark.parametrize("make", [
        pytest.param(lambda p: signed(p, exp=int(time.time()) - 3600, iat=int(time.time()) - 7200), id="expired"),
        pytest.param(lambda p: signed(p, key=OTHER_KEY), id="signed-by-another-key"),
        pytest.param(lambda p: signed(p, kid="unknown"), id="unknown-key-id"),
        pytest.param(unsigned, id="unsigned"),
        pytest.param(lambda p: signed(p, aud="demo-someone-else"), id="wrong-audience"),
        pytest.param(lambda p: signed(p, iss="https://evil.example.com/x"), id="wrong-issuer"),
        pytest.param(lambda p: signed(p, sub=""), id="empty-subject"),
        pytest.param(lambda p: "not.a.jwt", id="malformed"),
    ])
    async def test_bad_tokens_are_401(self, client, production_auth, project_id, make):
        r = await client.get("/trades/shadow", headers={"Authorization": f"Bearer {make(project_id)}"})
        assert r.status_code == 401 and r.json()["error"]["code"] == "invalid_token", r.text

    async def test_keys_unreachable_is_503_not_401(self, client, production_auth, monkeypatch, project_id):
        from firebase_admin import auth as firebase_auth

        def unreachable(request, url):
            raise firebase_auth.CertificateFetchError("no route to googleapis.com", cause=None)

        monkeypatch.setattr(google.oauth2.id_token, "_fetch_certs", unreachable)
        r = await client.get("/trades/shadow", headers={"Authorization": f"Bearer {signed(project_id)}"})
        assert r.status_code == 503 and r.json()["error"]["code"] == "auth_unavailable" and r.headers["Retry-After"]
