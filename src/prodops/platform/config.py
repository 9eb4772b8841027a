"""Settings: one typed object read from the environment (``PRODOPS_`` prefix) or a ``.env`` file."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_SECRET = "dev-insecure-change-me"  # noqa: S105  # the known default that production refuses


class Settings(BaseSettings):
    """Every setting ProdOps reads. Each field's docstring is its documentation (the README lists them all)."""

    model_config = SettingsConfigDict(
        env_prefix="PRODOPS_", env_file=".env", extra="ignore", use_attribute_docstrings=True
    )

    environment: Literal["development", "test", "production"] = "development"
    """Where this instance runs. Outside `development` and `test` the app refuses to start with the default secret key."""

    secret_key: str = DEFAULT_SECRET
    """Signs session cookies, CSRF tokens, unsubscribe and reset links. Set a long random value in production."""

    data_dir: Path = Path(".prodops")
    """Directory for the SQLite database, the job queue, the warehouse file and uploads."""

    database_url: str = ""
    """SQLAlchemy URL of the operational database. Empty means a SQLite file in the data directory; set `postgresql+psycopg://user@host/db` for PostgreSQL."""

    database_echo: bool = False
    """Log every SQL statement (debugging only)."""

    warehouse_url: str = ""
    """Analytics warehouse. Empty means a DuckDB file (`warehouse.duckdb`) in the data directory; `duckdb:///path/to/file.duckdb` names another file."""

    redis_url: str = ""
    """Redis URL for the job queue (e.g. `redis://127.0.0.1:6379/0`). Empty means a SQLite-backed queue in the data directory."""

    jobs_immediate: bool = False
    """Run background jobs inline in the calling process instead of queueing them (used by the tests)."""

    worker_threads: int = Field(default=2, ge=1, le=64)
    """Number of job worker threads started by `prodops serve` and `prodops worker`."""

    embedded_worker: bool = True
    """Run a job consumer inside `prodops serve`. Turn off when you run separate `prodops worker` processes."""

    base_url: str = "http://127.0.0.1:8000"
    """Public address of this instance, used in links inside e-mails and webhooks."""

    secure_cookies: bool = False
    """Mark cookies `Secure` (send only over HTTPS). Turn on behind TLS."""

    session_max_age_days: int = Field(default=14, ge=1)
    """How long a login session lasts, in days."""

    login_max_failures: int = Field(default=5, ge=1)
    """Failed password attempts on one account before it is temporarily locked."""

    login_lockout_minutes: int = Field(default=15, ge=1)
    """How long an account stays locked after too many failed attempts."""

    login_rate_per_minute: int = Field(default=20, ge=1)
    """Login attempts allowed per client IP address per minute."""

    widget_rate_limit: str = Field(default="10/minute", pattern=r"^\s*[1-9]\d{0,5}\s*/\s*(second|minute|hour|day)\s*$")
    """Feedback the embeddable widget accepts per site and client IP address, as `N/second`, `N/minute`, `N/hour` or `N/day`; more gets HTTP 429 with `Retry-After`."""

    password_reset_ttl_minutes: int = Field(default=60, ge=5)
    """How long a password-reset link stays valid."""

    max_body_bytes: int = Field(default=10 * 1024 * 1024, ge=1024)
    """Largest request body accepted, in bytes (uploads included); larger requests get HTTP 413."""

    smtp_host: str = "127.0.0.1"
    """SMTP server that sends e-mail."""

    smtp_port: int = 25
    """SMTP server port."""

    smtp_username: str = ""
    """SMTP user name (empty for no authentication)."""

    smtp_password: str = ""
    """SMTP password."""

    smtp_tls: Literal["none", "starttls", "ssl"] = "none"
    """Transport security for SMTP: `none`, `starttls` or `ssl`."""

    smtp_timeout_seconds: float = 10.0
    """Give up on an SMTP connection after this many seconds."""

    mail_from: str = "ProdOps <prodops@localhost>"
    """Sender address of outgoing e-mail."""

    embedder: Literal["auto", "wordllama", "hashing"] = "auto"
    """Text embedding model for feedback intelligence: `auto` (WordLlama, shipped with the package; the hashing embedder if it is missing), `wordllama`, or `hashing` (spelling-based, no model). Changing it re-analyses every item in the background."""

    imap_host: str = ""
    """IMAP server of the mailbox whose unseen messages become feedback (e.g. `imap.example.com`). Empty turns IMAP polling off."""

    imap_port: int = Field(default=993, ge=1, le=65535)
    """IMAP server port (993 for IMAP over TLS, 143 for plain IMAP)."""

    imap_user: str = ""
    """User name for the IMAP mailbox."""

    imap_password: SecretStr = SecretStr("")
    """Password (or app password) for the IMAP mailbox."""

    imap_mailbox: str = "INBOX"
    """Mailbox (folder) polled for feedback e-mail."""

    imap_ssl: bool = True
    """Connect to IMAP over TLS. When off, the connection is upgraded with STARTTLS if the server offers it."""

    imap_interval_minutes: int = Field(default=5, ge=1, le=60)
    """How often the IMAP mailbox is polled, in minutes."""

    zendesk_webhook_secret: SecretStr = SecretStr("")
    """Signing secret of the Zendesk webhook that posts tickets to `/api/v1/feedback/webhooks/zendesk`. Empty turns the receiver off (HTTP 404)."""

    intercom_client_secret: SecretStr = SecretStr("")
    """Client secret of the Intercom app whose webhooks post to `/api/v1/feedback/webhooks/intercom`. Empty turns the receiver off (HTTP 404)."""

    webhook_timeout_seconds: float = 10.0
    """Give up on a webhook delivery attempt after this many seconds."""

    webhook_max_attempts: int = Field(default=6, ge=1)
    """Attempts per webhook delivery before it is marked failed."""

    webhook_retry_base_seconds: float = Field(default=30.0, ge=0)
    """First retry delay for a failed webhook; each further retry doubles it."""

    workspace_name: str = Field(default="ProdOps", min_length=1, max_length=120)
    """Your organisation's name as customers see it: on public survey pages and in survey e-mails."""

    survey_throttle_days: int = Field(default=90, ge=0, le=3650)
    """Nobody is asked to answer a survey more than once in this many days, across all surveys and channels (a survey can set its own); 0 turns the throttle off."""

    roadmap_points_per_person_week: float = Field(default=5.0, gt=0, le=1000)
    """How many effort points one person-week of work is worth, to add up effort estimated in both units (the alignment report, roadmap totals)."""

    currency: str = Field(default="USD", pattern=r"^[A-Z]{3}$")
    """ISO 4217 code of the currency that ARR and other money values are kept in."""

    demo_admin_email: str = "admin@example.com"
    """E-mail of the administrator created by `prodops demo`."""

    demo_admin_password: str = "prodops-demo"  # noqa: S105  # the documented demo login
    """Password of the administrator created by `prodops demo`."""

    demo_events: int = Field(default=5_000_000, ge=0, le=100_000_000)
    """Usage events `prodops demo` generates for product analytics (180 days for the demo's people); 0 skips them."""

    log_level: str = "INFO"
    """Log level for the server and worker."""

    @field_validator("database_url")
    @classmethod
    def _normalise_postgres(cls, value: str) -> str:
        # Accept the common libpq-style URL and pick the psycopg 3 driver.
        if value.startswith("postgres://"):
            value = "postgresql://" + value.removeprefix("postgres://")
        if value.startswith("postgresql://"):
            value = "postgresql+psycopg://" + value.removeprefix("postgresql://")
        return value

    @model_validator(mode="after")
    def _enforce_secret(self) -> Settings:
        if self.environment == "production" and self.secret_key == DEFAULT_SECRET:
            raise ValueError(
                "PRODOPS_SECRET_KEY is the default value; set a long random secret before running in production"
            )
        return self

    @property
    def sqlalchemy_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'prodops.db').resolve()}"

    @property
    def is_sqlite(self) -> bool:
        return self.sqlalchemy_url.startswith("sqlite")

    def ensure_data_dir(self) -> Path:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        (self.data_dir / "uploads").mkdir(exist_ok=True)
        return self.data_dir


@functools.cache
def get_settings() -> Settings:
    """The process-wide settings, read once."""
    return Settings()
