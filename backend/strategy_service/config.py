"""Settings of the Strategy Service: one pydantic-settings class read from the environment."""

from __future__ import annotations

from functools import lru_cache
from typing import Literal

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Every knob of the service, with a default that works locally.

    Values come from environment variables of the same name (or a ``.env`` file).

    Raises:
        ValueError: on construction when ``ENV=production`` and an emulator variable
            (``FIRESTORE_EMULATOR_HOST``, ``FIREBASE_AUTH_EMULATOR_HOST``) is set: with
            the Auth emulator variable, firebase-admin accepts unsigned tokens, so anyone
            could act as anyone.
    """

    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    ENV: Literal["development", "test", "production"] = "development"
    GOOGLE_CLOUD_PROJECT: str = "demo-strategy-service"
    FIRESTORE_EMULATOR_HOST: str | None = None
    FIREBASE_AUTH_EMULATOR_HOST: str | None = None

    #: A quote older than this is refused for fills; 0 turns the check off.
    MAX_QUOTE_AGE_SECONDS: int = Field(default=60, ge=0)
    #: Deadline of one Firestore call, seconds; past it the request answers 503.
    FIRESTORE_TIMEOUT_SECONDS: float = Field(default=10.0, gt=0)
    #: Seconds a client is told to wait (``Retry-After``) after a storage failure.
    RETRY_AFTER_SECONDS: int = Field(default=1, ge=0)
    #: Largest notional of one trade, USD, unless the user set their own (a 422 above it).
    MAX_TRADE_NOTIONAL_USD: int = Field(default=10_000_000, gt=0)
    #: Largest sum of a user's open positions' notionals, USD, unless they set their own.
    MAX_OPEN_NOTIONAL_USD: int = Field(default=50_000_000, gt=0)
    #: Page size of ``GET /trades/shadow`` when none is given, and its cap.
    PAGE_SIZE_DEFAULT: int = Field(default=50, ge=1)
    PAGE_SIZE_MAX: int = Field(default=200, ge=1)
    #: OPEN trades read and written per round of the mark-to-market job.
    MARK_TO_MARKET_BATCH_SIZE: int = Field(default=200, ge=1, le=500)
    #: How long a quote publish waits for the exits it triggers, seconds; past it the
    #: closes go on in the background and the publish answers (decision D23).
    TRIGGER_WAIT_SECONDS: float = Field(default=5.0, ge=0)
    #: Triggered closes (and water-mark moves) in flight at once per published quote.
    TRIGGER_CONCURRENCY: int = Field(default=16, ge=1, le=200)
    #: Trades read per page of a trigger query.
    TRIGGER_PAGE_SIZE: int = Field(default=300, ge=1, le=1000)
    #: Largest accepted request body, bytes (413 past it).
    MAX_BODY_BYTES: int = Field(default=16_384, ge=1_024)
    #: The custom token claim that makes a caller a quote publisher (``role == "publisher"``).
    PUBLISHER_ROLE: str = "publisher"
    #: How long a close that read old settings may still be committing, seconds: a rebuild
    #: waits this long before it catches up and again after it switches.
    REBUILD_GRACE_SECONDS: float = Field(default=30.0, ge=0)
    #: The Firebase web app's public API key (not a secret: it names the project to
    #: Firebase; any value works with the Auth emulator), for the dashboard page.
    FIREBASE_WEB_API_KEY: str = "demo-api-key"
    #: The dashboard's Firebase Auth domain (default ``<project>.firebaseapp.com``).
    FIREBASE_AUTH_DOMAIN: str | None = None
    #: Show Google sign-in on the dashboard (production; the emulator's flow needs a pop-up).
    WEB_GOOGLE_SIGN_IN: bool = False
    LOG_LEVEL: str = "INFO"

    @property
    def uses_emulator(self) -> bool:
        """True when Firestore or Auth is pointed at a local emulator."""
        return bool(self.FIRESTORE_EMULATOR_HOST or self.FIREBASE_AUTH_EMULATOR_HOST)

    @model_validator(mode="after")
    def _refuse_emulator_in_production(self) -> Settings:
        if self.ENV == "production" and self.uses_emulator:
            raise ValueError(
                "ENV=production with FIRESTORE_EMULATOR_HOST or FIREBASE_AUTH_EMULATOR_HOST set: "
                "refusing to start (emulator mode accepts unsigned ID tokens)"
            )
        return self


@lru_cache
def get_settings() -> Settings:
    """The process-wide settings, read once."""
    return Settings()
