"""Rate limits per connection, counted under keys that reveal no address."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from tests.support.forms import csrf_token
from tipline.models import Tip

pytestmark = pytest.mark.embedded

ADDRESS = "198.51.100.42"


@pytest.fixture
def limited_app(runtime):  # type: ignore[no-untyped-def]
    from tipline.app import create_app

    runtime.settings = runtime.settings.with_overrides(tip_rate_limit="3 per hour")
    return create_app(runtime=runtime)


def _send(client, text: str):  # type: ignore[no-untyped-def]
    token = csrf_token(client, "/tip")
    return client.post(
        "/tip",
        data={"category": "drugs", "zone": "on-north", "description": text, "csrf_token": token},
    )


def test_the_fourth_tip_in_an_hour_is_429_with_the_text_kept(limited_app, runtime) -> None:  # type: ignore[no-untyped-def]
    client = limited_app.test_client()
    client.environ_base["REMOTE_ADDR"] = ADDRESS
    statuses = [_send(client, f"Tip number {i} about the van.").status_code for i in range(3)]
    assert statuses == [200, 200, 200]
    refused = _send(client, "The fourth one, please keep this text.")
    assert refused.status_code == 429
    page = refused.get_data(as_text=True)
    assert "wait an hour" in page and "The fourth one, please keep this text." in page
    # Another connection is not affected.
    other = limited_app.test_client()
    other.environ_base["REMOTE_ADDR"] = "203.0.113.5"
    assert _send(other, "A different person entirely.").status_code == 200
    with runtime.sessions() as session:
        assert session.scalar(select(func.count()).select_from(Tip)) == 4


def test_counter_keys_hold_no_address(limited_app, runtime) -> None:  # type: ignore[no-untyped-def]
    client = limited_app.test_client()
    client.environ_base["REMOTE_ADDR"] = ADDRESS
    _send(client, "Counting this one for the key check.")
    keys = [
        k.decode()
        for k in runtime.redis.scan_iter(match=f"{runtime.settings.redis_prefix}:limits*")
    ]
    assert keys, "the limiter wrote no counter under our prefix"
    for key in keys:
        assert ADDRESS not in key and ADDRESS.replace(".", "") not in key
        value = runtime.redis.get(key) if runtime.redis.type(key) == b"string" else b""
        assert ADDRESS.encode() not in (value or b"")


def test_the_daily_secret_changes_the_bucket_every_day() -> None:
    import hashlib
    import hmac

    from tipline.intake.limits import daily_secret

    secret = b"s" * 32
    monday, tuesday = daily_secret(secret, "2026-11-23"), daily_secret(secret, "2026-11-24")
    assert monday != tuesday
    bucket = [hmac.new(k, ADDRESS.encode(), hashlib.sha256).hexdigest() for k in (monday, tuesday)]
    assert bucket[0] != bucket[1]


def test_a_limiter_without_redis_lets_tips_through(limited_app, runtime) -> None:  # type: ignore[no-untyped-def]
    import redis

    from tipline.app import create_app

    real = runtime.redis
    runtime.__dict__["redis"] = redis.Redis(
        host="127.0.0.1", port=1, socket_connect_timeout=1, socket_timeout=1
    )
    try:
        app = create_app(runtime=runtime)  # its limiter and queue both point at a dead Redis
        client = app.test_client()
        response = _send(client, "Redis is down, the tip must still land.")
    finally:
        runtime.__dict__["redis"] = real
    assert response.status_code == 200
