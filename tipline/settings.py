"""Typed settings, read once from the environment (and ``.env``) and validated at start.

A wrong value raises :class:`SettingsError` naming the variable, before the first request.
Secrets (secret key, relay key, pepper) are never stored in the database; ``tipline demo``
generates them into the data directory.
"""

from __future__ import annotations

import base64
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from urllib.parse import urlsplit

from tipline.crypto import KdfProfile

SECRET_FILE = "secrets.env"  # noqa: S105 - a file name, not a secret
SECRET_NAMES = ("TIPLINE_SECRET_KEY", "TIPLINE_RELAY_KEY", "TIPLINE_PEPPER")


class SettingsError(ValueError):
    """A configuration value is missing or wrong; the message names the variable."""


@dataclass(frozen=True)
class Settings:
    data_dir: Path
    config_dir: Path
    keys_dir: Path
    database_url: str
    redis_url: str | None  # None = start/use the bundled Redis in the data directory
    public_url: str
    secret_key: bytes
    relay_key: bytes
    pepper: bytes
    twilio_account_sid: str | None = None
    twilio_auth_token: str | None = None
    twilio_from_number: str | None = None
    twilio_messaging_service_sid: str | None = None
    twilio_api_base: str | None = None
    redis_prefix: str = "tipline"
    max_description_chars: int = 20_000
    max_field_bytes: int = 256 * 1024  # any one text field of a form
    max_attachment_bytes: int = 10 * 1024 * 1024  # one file
    max_attachments_bytes: int = 25 * 1024 * 1024  # all files of one tip together
    time_granularity_minutes: int = 60
    staff_session_minutes: int = 30
    tip_rate_limit: str = "10 per hour"
    followup_session_minutes: int = 15  # a tipster's follow-up session, idle
    followup_rate_limit: str = "30 per hour"  # follow-up sign-ins and replies per connection
    pow_bits: int = 16  # optional proof of work in the tip form; 0 turns it off
    pow_tip_rate_limit: str = "30 per hour"  # tips with solved work, per connection
    sms_conversation_days: int = 30  # an SMS conversation and its reply handle live this long
    timezone: str = "America/Toronto"  # statistics periods (days, weeks, months) are local
    stats_k: int = 5  # counts under this are withheld from statistics
    stats_rounding: bool = False  # random rounding to base 5 of published statistics
    public_stats: bool = False  # the public transparency page at /transparency
    smtp_url: str | None = None  # content-free notices to staff; None: written to the log
    mail_from: str = "tipline@localhost"
    trusted_proxies: int = 0  # reverse proxies in front of the web server (X-Forwarded-For)
    # How soon lost work comes back: the scheduler's outbox sweep (it also cleans up jobs
    # of killed workers), and RQ's own registry maintenance in each worker.
    sweep_seconds: int = 30
    worker_maintenance_seconds: int = 60
    kdf: KdfProfile = field(default_factory=KdfProfile)

    @property
    def bundled_redis_socket(self) -> Path:
        return self.data_dir / "redis" / "redis.sock"

    @property
    def effective_redis_url(self) -> str:
        if self.redis_url:
            return self.redis_url
        return f"unix://{self.bundled_redis_socket}"

    @property
    def max_request_bytes(self) -> int:
        return self.max_attachments_bytes + 1024 * 1024  # files + the form's text and framing

    @property
    def secure_cookies(self) -> bool:
        return self.public_url.startswith("https://")

    def with_overrides(self, **changes: object) -> Settings:
        return replace(self, **changes)  # type: ignore[arg-type]


def _secret(env: Mapping[str, str], name: str, required: bool) -> bytes:
    value = env.get(name, "").strip()
    if not value:
        if required:
            raise SettingsError(
                f"{name} is not set: set it in the environment (at least 32 random bytes, "
                "base64) or run `tipline demo`, which generates one into the data directory"
            )
        return b""
    try:
        raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
    except ValueError as exc:
        raise SettingsError(f"{name} is not valid base64") from exc
    if len(raw) < 32:
        raise SettingsError(f"{name} must decode to at least 32 bytes (got {len(raw)})")
    return raw


def read_secret_file(data_dir: Path) -> dict[str, str]:
    path = data_dir / SECRET_FILE
    if not path.exists():
        return {}
    values: dict[str, str] = {}
    for line in path.read_text().splitlines():
        if "=" in line and not line.lstrip().startswith("#"):
            key, _, value = line.partition("=")
            values[key.strip()] = value.strip()
    return values


def _int(env: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError as exc:
        raise SettingsError(f"{name} must be a whole number, got {raw!r}") from exc
    if not low <= value <= high:
        raise SettingsError(f"{name} must be between {low} and {high}, got {value}")
    return value


def _rate(env: Mapping[str, str], name: str, default: str) -> str:
    from limits import parse_many

    value = env.get(name) or default
    try:
        parse_many(value)  # every rate of "10 per hour;50 per day", not just the first
    except ValueError as exc:
        raise SettingsError(f"{name} must be a rate like '10 per hour', got {value!r}") from exc
    return value


_ACCOUNT_SID = re.compile(r"AC[0-9a-fA-F]{32}")
_SERVICE_SID = re.compile(r"MG[0-9a-fA-F]{32}")
# E.164, or a short code: what Twilio accepts as a sending number.
_SENDER = re.compile(r"\+[1-9]\d{6,14}|\d{3,8}")


def _twilio(env: Mapping[str, str]) -> dict[str, str | None]:
    """Twilio's four settings, all or nothing: a half-configured account would take texts
    it can never answer, fetch or delete at Twilio."""
    values = {
        "twilio_account_sid": (env.get("TWILIO_ACCOUNT_SID") or "").strip() or None,
        "twilio_auth_token": (env.get("TWILIO_AUTH_TOKEN") or "").strip() or None,
        "twilio_from_number": (env.get("TWILIO_FROM_NUMBER") or "").strip() or None,
        "twilio_messaging_service_sid": (env.get("TWILIO_MESSAGING_SERVICE_SID") or "").strip()
        or None,
    }
    sid, token = values["twilio_account_sid"], values["twilio_auth_token"]
    sender, service = values["twilio_from_number"], values["twilio_messaging_service_sid"]
    if not sid and not token:
        if sender or service:
            raise SettingsError(
                "TWILIO_FROM_NUMBER/TWILIO_MESSAGING_SERVICE_SID need TWILIO_ACCOUNT_SID and "
                "TWILIO_AUTH_TOKEN"
            )
        return values
    if not sid or not token:
        missing = "TWILIO_AUTH_TOKEN" if sid else "TWILIO_ACCOUNT_SID"
        raise SettingsError(
            f"{missing} is not set: TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN go together"
        )
    if not _ACCOUNT_SID.fullmatch(sid):
        raise SettingsError("TWILIO_ACCOUNT_SID must look like AC followed by 32 hex digits")
    if not sender and not service:
        raise SettingsError(
            "set TWILIO_FROM_NUMBER or TWILIO_MESSAGING_SERVICE_SID: replies need a sender"
        )
    if sender and not _SENDER.fullmatch(sender):
        raise SettingsError("TWILIO_FROM_NUMBER must be an E.164 number like +15145550000")
    if service and not _SERVICE_SID.fullmatch(service):
        raise SettingsError(
            "TWILIO_MESSAGING_SERVICE_SID must look like MG followed by 32 hex digits"
        )
    return values


def load_settings(
    env: Mapping[str, str] | None = None, *, require_secrets: bool = True
) -> Settings:
    """Build settings from ``env`` (default: the process environment plus ``.env``)."""
    if env is None:
        from dotenv import dotenv_values

        merged = {k: v for k, v in dotenv_values(".env").items() if v is not None}
        merged.update(os.environ)
        env = merged
    data_dir = Path(env.get("TIPLINE_DATA_DIR") or "./var").resolve()
    # Secrets generated by `tipline demo` live beside the data; the environment wins.
    env = {**read_secret_file(data_dir), **env}
    config_dir = Path(env.get("TIPLINE_CONFIG_DIR") or "./config").resolve()
    keys_dir = Path(env.get("TIPLINE_KEYS_DIR") or "./keys").resolve()

    database_url = env.get("TIPLINE_DATABASE_URL") or f"sqlite:///{data_dir / 'tipline.db'}"
    if not database_url.startswith(("postgresql", "sqlite")):
        raise SettingsError(
            "TIPLINE_DATABASE_URL must be a PostgreSQL (postgresql+psycopg://…) or SQLite URL"
        )
    if database_url.startswith("postgresql://"):
        database_url = "postgresql+psycopg://" + database_url[len("postgresql://") :]

    redis_url = env.get("TIPLINE_REDIS_URL") or None
    if redis_url and not redis_url.startswith(("redis://", "rediss://", "unix://")):
        raise SettingsError("TIPLINE_REDIS_URL must start with redis://, rediss:// or unix://")

    public_url = (env.get("TIPLINE_PUBLIC_URL") or "http://127.0.0.1:8000").rstrip("/")
    parts = urlsplit(public_url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise SettingsError(f"TIPLINE_PUBLIC_URL must be an http(s) URL, got {public_url!r}")

    twilio_base = env.get("TIPLINE_TWILIO_API_BASE") or None
    if twilio_base and urlsplit(twilio_base).scheme not in ("http", "https"):
        raise SettingsError("TIPLINE_TWILIO_API_BASE must be an http(s) URL")

    twilio = _twilio(env)

    smtp_url = (env.get("TIPLINE_SMTP_URL") or "").strip() or None
    if smtp_url:
        smtp = urlsplit(smtp_url)
        if smtp.scheme not in ("smtp", "smtps", "smtp+starttls") or not smtp.hostname:
            raise SettingsError(
                "TIPLINE_SMTP_URL must look like smtp://host:25, smtp+starttls://user:pass@host:587 "
                "or smtps://user:pass@host:465"
            )
    timezone = (env.get("TIPLINE_TIMEZONE") or "America/Toronto").strip()
    try:
        from zoneinfo import ZoneInfo

        ZoneInfo(timezone)
    except (ValueError, KeyError, OSError):
        raise SettingsError(
            f"TIPLINE_TIMEZONE: {timezone!r} is not a time zone name like America/Toronto"
        ) from None
    rounding = (env.get("TIPLINE_STATS_ROUNDING") or "off").strip().lower()
    if rounding not in ("on", "off"):
        raise SettingsError("TIPLINE_STATS_ROUNDING must be on or off")
    public_stats = (env.get("TIPLINE_PUBLIC_STATS") or "off").strip().lower()
    if public_stats not in ("on", "off"):
        raise SettingsError("TIPLINE_PUBLIC_STATS must be on or off")
    mail_from = (env.get("TIPLINE_MAIL_FROM") or "tipline@localhost").strip()
    if not re.fullmatch(r"[^@\s<>]+@[^@\s<>]+", mail_from):
        raise SettingsError("TIPLINE_MAIL_FROM must be an email address")

    kdf = KdfProfile()
    if env.get("TIPLINE_KDF_PROFILE") == "test":
        kdf = KdfProfile.for_tests()
    elif env.get("TIPLINE_KDF_PROFILE") not in (None, "", "default"):
        raise SettingsError("TIPLINE_KDF_PROFILE must be 'default' or 'test'")

    return Settings(
        data_dir=data_dir,
        config_dir=config_dir,
        keys_dir=keys_dir,
        database_url=database_url,
        redis_url=redis_url,
        public_url=public_url,
        secret_key=_secret(env, "TIPLINE_SECRET_KEY", require_secrets),
        relay_key=_secret(env, "TIPLINE_RELAY_KEY", require_secrets),
        pepper=_secret(env, "TIPLINE_PEPPER", require_secrets),
        twilio_account_sid=twilio["twilio_account_sid"],
        twilio_auth_token=twilio["twilio_auth_token"],
        twilio_from_number=twilio["twilio_from_number"],
        twilio_messaging_service_sid=twilio["twilio_messaging_service_sid"],
        twilio_api_base=twilio_base,
        redis_prefix=env.get("TIPLINE_REDIS_PREFIX") or "tipline",
        max_description_chars=_int(env, "TIPLINE_MAX_DESCRIPTION_CHARS", 20_000, 100, 1_000_000),
        time_granularity_minutes=_int(env, "TIPLINE_TIME_GRANULARITY_MINUTES", 60, 1, 1440),
        staff_session_minutes=_int(env, "TIPLINE_STAFF_SESSION_MINUTES", 30, 5, 720),
        max_attachment_bytes=_int(env, "TIPLINE_MAX_ATTACHMENT_MB", 10, 1, 500) * 1024 * 1024,
        max_attachments_bytes=_int(env, "TIPLINE_MAX_TIP_ATTACHMENTS_MB", 25, 1, 2000)
        * 1024
        * 1024,
        tip_rate_limit=_rate(env, "TIPLINE_TIP_RATE_LIMIT", "10 per hour"),
        followup_session_minutes=_int(env, "TIPLINE_FOLLOWUP_SESSION_MINUTES", 15, 2, 120),
        followup_rate_limit=_rate(env, "TIPLINE_FOLLOWUP_RATE_LIMIT", "30 per hour"),
        pow_bits=_int(env, "TIPLINE_POW_BITS", 16, 0, 24),
        pow_tip_rate_limit=_rate(env, "TIPLINE_POW_TIP_RATE_LIMIT", "30 per hour"),
        sms_conversation_days=_int(env, "TIPLINE_SMS_CONVERSATION_DAYS", 30, 1, 365),
        timezone=timezone,
        stats_k=_int(env, "TIPLINE_STATS_K", 5, 2, 100),
        stats_rounding=rounding == "on",
        public_stats=public_stats == "on",
        smtp_url=smtp_url,
        mail_from=mail_from,
        trusted_proxies=_int(env, "TIPLINE_TRUSTED_PROXIES", 0, 0, 5),
        sweep_seconds=_int(env, "TIPLINE_SWEEP_SECONDS", 30, 1, 3600),
        worker_maintenance_seconds=_int(env, "TIPLINE_WORKER_MAINTENANCE_SECONDS", 60, 1, 3600),
        kdf=kdf,
    )


def generate_secrets() -> dict[str, str]:
    return {
        name: base64.urlsafe_b64encode(os.urandom(32)).decode().rstrip("=") for name in SECRET_NAMES
    }
