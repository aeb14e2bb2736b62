"""Cookies: only where needed, and as locked down as the browser allows."""

from __future__ import annotations

import re

import pytest

pytestmark = pytest.mark.embedded


def _cookies(response) -> list[str]:  # type: ignore[no-untyped-def]
    return response.headers.getlist("Set-Cookie")


def test_over_https_every_cookie_is_host_prefixed_secure_httponly_strict(runtime, world) -> None:  # type: ignore[no-untyped-def]
    from tipline.app import create_app

    runtime.settings = runtime.settings.with_overrides(public_url="https://tips.example.org")
    app = create_app(runtime=runtime)
    client = app.test_client()
    base = "https://tips.example.org"
    form = client.get("/tip", base_url=base)
    account = world["north"]
    page = client.get("/staff/login", base_url=base).get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]
    signed_in = client.post(
        "/staff/login",
        base_url=base,
        data={
            "email": account.email,
            "password": account.password,
            "totp": account.code(),
            "csrf_token": token,
        },
    )
    assert signed_in.status_code == 302
    cookies = _cookies(form) + _cookies(signed_in)
    names = {c.split("=", 1)[0] for c in cookies}
    assert names == {"__Host-tipline_csrf", "__Host-tipline_staff"}
    for cookie in cookies:
        flags = {part.strip().lower() for part in cookie.split(";")[1:]}
        assert {"secure", "httponly", "path=/", "samesite=strict"} <= flags, cookie
        assert not any(f.startswith("domain=") for f in flags), cookie


def test_the_tip_form_sets_only_the_csrf_cookie(client) -> None:  # type: ignore[no-untyped-def]
    cookies = _cookies(client.get("/tip"))
    assert [c.split("=", 1)[0] for c in cookies] == ["tipline_csrf"]
    flags = cookies[0].lower()
    assert "httponly" in flags and "samesite=strict" in flags
