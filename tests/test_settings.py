from __future__ import annotations

import base64

import pytest

from tipline.settings import SettingsError, load_settings

GOOD = base64.urlsafe_b64encode(b"k" * 32).decode()


def _env(**extra: str) -> dict[str, str]:
    env = {
        "TIPLINE_SECRET_KEY": GOOD,
        "TIPLINE_RELAY_KEY": GOOD,
        "TIPLINE_PEPPER": GOOD,
        "TIPLINE_DATA_DIR": "/nonexistent-tipline",
    }
    env.update(extra)
    return env


def test_embedded_defaults() -> None:
    settings = load_settings(_env())
    assert settings.database_url.startswith("sqlite:///") and settings.database_url.endswith(
        "/tipline.db"
    )
    assert settings.redis_url is None
    assert settings.effective_redis_url.startswith("unix://")
    assert settings.public_url == "http://127.0.0.1:8000"


def test_plain_postgresql_url_gets_the_psycopg_driver() -> None:
    settings = load_settings(_env(TIPLINE_DATABASE_URL="postgresql://u@db/tipline"))
    assert settings.database_url == "postgresql+psycopg://u@db/tipline"


@pytest.mark.parametrize(
    ("name", "value", "fragment"),
    [
        ("TIPLINE_DATABASE_URL", "mysql://x", "TIPLINE_DATABASE_URL"),
        ("TIPLINE_REDIS_URL", "http://x", "TIPLINE_REDIS_URL"),
        ("TIPLINE_PUBLIC_URL", "ftp://x", "TIPLINE_PUBLIC_URL"),
        ("TIPLINE_SECRET_KEY", "c2hvcnQ", "at least 32 bytes"),
        ("TIPLINE_PEPPER", "", "TIPLINE_PEPPER is not set"),
        ("TIPLINE_TIME_GRANULARITY_MINUTES", "soon", "whole number"),
        ("TIPLINE_TIME_GRANULARITY_MINUTES", "0", "between 1 and 1440"),
        ("TIPLINE_TWILIO_API_BASE", "localhost:9", "TIPLINE_TWILIO_API_BASE"),
        ("TIPLINE_TIP_RATE_LIMIT", "lots", "TIPLINE_TIP_RATE_LIMIT"),
        ("TIPLINE_TRUSTED_PROXIES", "9", "between 0 and 5"),
        ("TIPLINE_POW_BITS", "25", "between 0 and 24"),
        ("TIPLINE_FOLLOWUP_SESSION_MINUTES", "0", "between 2 and 120"),
        ("TIPLINE_FOLLOWUP_RATE_LIMIT", "often", "TIPLINE_FOLLOWUP_RATE_LIMIT"),
        ("TIPLINE_SMTP_URL", "mail.example.org", "TIPLINE_SMTP_URL"),
        ("TIPLINE_SMTP_URL", "http://mail.example.org", "TIPLINE_SMTP_URL"),
        ("TIPLINE_MAIL_FROM", "tipline", "TIPLINE_MAIL_FROM"),
    ],
)
def test_a_wrong_value_fails_at_start_naming_the_variable(
    name: str, value: str, fragment: str
) -> None:
    with pytest.raises(SettingsError, match=fragment):
        load_settings(_env(**{name: value}))


SID = "AC" + "0123456789abcdef" * 2
SERVICE = "MG" + "fedcba9876543210" * 2


@pytest.mark.parametrize(
    ("twilio", "fragment"),
    [
        ({"TWILIO_ACCOUNT_SID": SID}, "TWILIO_AUTH_TOKEN is not set"),
        (
            {"TWILIO_AUTH_TOKEN": "t" * 32, "TWILIO_FROM_NUMBER": "+15145550000"},
            "TWILIO_ACCOUNT_SID is not set",
        ),
        ({"TWILIO_FROM_NUMBER": "+15145550000"}, "need TWILIO_ACCOUNT_SID"),
        ({"TWILIO_ACCOUNT_SID": SID, "TWILIO_AUTH_TOKEN": "t" * 32}, "replies need a sender"),
        (
            {
                "TWILIO_ACCOUNT_SID": "AC123",
                "TWILIO_AUTH_TOKEN": "t",
                "TWILIO_FROM_NUMBER": "+15145550000",
            },
            "TWILIO_ACCOUNT_SID must look like",
        ),
        (
            {
                "TWILIO_ACCOUNT_SID": SID,
                "TWILIO_AUTH_TOKEN": "t",
                "TWILIO_FROM_NUMBER": "514-555-0000",
            },
            "TWILIO_FROM_NUMBER must be an E.164",
        ),
        (
            {
                "TWILIO_ACCOUNT_SID": SID,
                "TWILIO_AUTH_TOKEN": "t",
                "TWILIO_MESSAGING_SERVICE_SID": "MGx",
            },
            "TWILIO_MESSAGING_SERVICE_SID must look like",
        ),
    ],
)
def test_a_half_configured_twilio_account_fails_at_start(
    twilio: dict[str, str], fragment: str
) -> None:
    with pytest.raises(SettingsError, match=fragment):
        load_settings(_env(**twilio))


def test_a_whole_twilio_account_is_taken_and_none_at_all_is_fine() -> None:
    settings = load_settings(
        _env(
            TWILIO_ACCOUNT_SID=SID, TWILIO_AUTH_TOKEN="token", TWILIO_MESSAGING_SERVICE_SID=SERVICE
        )
    )
    assert (settings.twilio_account_sid, settings.twilio_messaging_service_sid) == (SID, SERVICE)
    assert settings.twilio_from_number is None
    bare = load_settings(_env())
    assert bare.twilio_account_sid is None and bare.twilio_auth_token is None
