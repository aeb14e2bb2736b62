import logging

import pytest

from tipline.server import RedactAddresses, gunicorn_options


def _record(message: str) -> logging.LogRecord:
    return logging.LogRecord("gunicorn.error", logging.WARNING, __file__, 1, message, (), None)


@pytest.mark.parametrize(
    ("message", "leaked"),
    [
        ("Invalid request from ip=203.0.113.9: Invalid HTTP method", "203.0.113.9"),
        ("Invalid request from ip=2001:db8::77: limit request headers", "2001:db8::77"),
        ("Invalid request from ip=::1: bad", "ip=::1"),
        ("something about 198.51.100.23 happened", "198.51.100.23"),
    ],
)
def test_client_addresses_are_redacted_from_the_error_log(message: str, leaked: str) -> None:
    record = _record(message)
    assert RedactAddresses().filter(record) is True
    assert leaked not in record.getMessage()
    assert "[address]" in record.getMessage()


def test_our_own_bind_address_stays_readable() -> None:
    record = _record("Listening at: http://127.0.0.1:8000 (123)")
    RedactAddresses().filter(record)
    assert "127.0.0.1:8000" in record.getMessage()


def test_gunicorn_runs_without_an_access_log() -> None:
    options = gunicorn_options("127.0.0.1:0", 1)
    assert options["accesslog"] is None
    assert options["logger_class"].__name__ == "RedactingLogger"
