"""Sealed server-side sessions (staff and tipster): the cookie is the only key."""

from __future__ import annotations

import pytest

from tipline import sessions

pytestmark = pytest.mark.embedded


def test_a_session_opens_with_its_cookie_only_and_for_its_kind_only(runtime) -> None:  # type: ignore[no-untyped-def]
    cookie = sessions.open_session(runtime, "followup-session", b"payload", 60)
    assert sessions.load_session(runtime, "followup-session", cookie, 60, 3600) == b"payload"
    # A staff-session lookup with a tipster cookie finds nothing (and vice versa).
    assert sessions.load_session(runtime, "staff-session", cookie, 60, 3600) is None
    tampered = cookie[:-2] + ("AA" if cookie[-2:] != "AA" else "BB")
    assert sessions.load_session(runtime, "followup-session", tampered, 60, 3600) is None
    assert sessions.load_session(runtime, "followup-session", "not base64!", 60, 3600) is None


def test_a_session_past_its_absolute_lifetime_is_deleted(runtime) -> None:  # type: ignore[no-untyped-def]
    cookie = sessions.open_session(runtime, "followup-session", b"payload", 60)
    assert sessions.load_session(runtime, "followup-session", cookie, 60, -1) is None
    assert not list(runtime.redis.scan_iter(match="*followup-session*"))


def test_closing_a_session_deletes_it_and_activity_refreshes_it(runtime) -> None:  # type: ignore[no-untyped-def]
    cookie = sessions.open_session(runtime, "followup-session", b"x", 30)
    (key,) = list(runtime.redis.scan_iter(match="*followup-session*"))
    runtime.redis.expire(key, 5)
    sessions.load_session(runtime, "followup-session", cookie, 30, 3600)
    assert runtime.redis.ttl(key) > 5  # activity pushed the idle timeout back
    sessions.close_session(runtime, "followup-session", cookie)
    assert sessions.load_session(runtime, "followup-session", cookie, 30, 3600) is None
