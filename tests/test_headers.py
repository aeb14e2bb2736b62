"""Every page — found in the URL map, so a new route is covered the day it is added —
answers with the same strict headers: tipster pages, the pages reached by posting a
form, error pages in plain words, the staff pages, in both languages."""

from __future__ import annotations

import pytest

from tests.support.forms import (
    csrf_token,
    followup_sign_in,
    passphrase_from,
    reference_from,
    sign_in,
    submit_tip,
)

pytestmark = pytest.mark.embedded

# Routes that answer other programs, not browsers, or need a path argument (covered below
# with a real one): their absence from the walk is deliberate, and listed.
NOT_PAGES = {"/sms/inbound", "/sms/status", "/static/<path:filename>"}


def _directives(csp: str) -> dict[str, list[str]]:
    out = {}
    for part in csp.split(";"):
        words = part.split()
        if words:
            out[words[0]] = words[1:]
    return out


def assert_locked_down(response, where: str) -> None:  # type: ignore[no-untyped-def]
    h = response.headers
    csp = _directives(h.get("Content-Security-Policy", ""))
    assert csp.get("default-src") == ["'none'"], f"{where}: default-src {csp.get('default-src')}"
    for directive in ("script-src", "style-src", "img-src", "form-action"):
        assert csp.get(directive) == ["'self'"], f"{where}: {directive} {csp.get(directive)}"
    assert csp.get("frame-ancestors") == ["'none'"], where
    assert csp.get("base-uri") == ["'none'"], where
    assert h.get("Referrer-Policy") == "no-referrer", where
    assert "no-store" in h.get("Cache-Control", ""), where
    assert h.get("X-Content-Type-Options") == "nosniff", where
    assert h.get("X-Frame-Options") == "DENY", where
    assert h.get("Cross-Origin-Opener-Policy") == "same-origin", where
    permissions = h.get("Permissions-Policy", "")
    for feature in ("geolocation=()", "camera=()", "microphone=()"):
        assert feature in permissions, f"{where}: Permissions-Policy {permissions!r}"
    for cookie in h.getlist("Set-Cookie"):
        flags = {f.strip().split("=")[0].lower() for f in cookie.split(";")[1:]}
        assert {"httponly", "path"} <= flags and "samesite=strict" in cookie.lower(), (
            f"{where}: cookie {cookie.split('=')[0]} flags {flags}"
        )


def _pages(app, prefix_in: tuple[str, ...], prefix_out: tuple[str, ...] = ()) -> list[str]:  # type: ignore[no-untyped-def]
    found = []
    for rule in app.url_map.iter_rules():
        path = rule.rule
        if "GET" not in rule.methods or path in NOT_PAGES or path.startswith("/api/"):
            continue
        if not path.startswith(prefix_in) or path.startswith(prefix_out):
            continue
        assert not rule.arguments or path.startswith("/staff/tips/"), (
            f"{path} takes arguments: add a real one to this test, or to NOT_PAGES with why"
        )
        if not rule.arguments:
            found.append(path)
    return sorted(set(found))


def test_every_tipster_page_and_what_its_forms_lead_to(app, client, runtime, drain) -> None:  # type: ignore[no-untyped-def]
    runtime.settings = runtime.settings.with_overrides(public_stats=True)
    seen = 0
    for path in _pages(app, ("/",), ("/staff",)):
        for lang in ("en", "fr"):
            response = client.get(f"{path}?lang={lang}")
            assert response.status_code in (200, 302), f"{path}: {response.status_code}"
            assert_locked_down(response, f"GET {path} ({lang})")
            seen += 1
    assert seen >= 10  # /, /tip, /followup, /healthz, /transparency, in two languages
    assert_locked_down(client.get("/static/pow.js"), "a static file")

    receipt = submit_tip(client)
    assert receipt.status_code == 200
    assert_locked_down(receipt, "the receipt")
    page = receipt.get_data(as_text=True)
    signed_in = followup_sign_in(client, reference_from(page), passphrase_from(page))
    assert_locked_down(signed_in, "follow-up sign-in")
    assert_locked_down(client.get("/followup"), "the follow-up thread")

    errors = {
        "400 form expired": client.post("/tip", data={"description": "x"}),
        "404": client.get("/no-such-page"),
        "405": client.delete("/tip"),
        "413": client.post(
            "/tip",
            data={
                "description": "x" * (runtime.settings.max_field_bytes + 10),
                "csrf_token": csrf_token(client, "/tip"),
            },
            content_type="multipart/form-data",
        ),
        "400 invalid tip": client.post(
            "/tip", data={"description": "short", "csrf_token": csrf_token(client, "/tip")}
        ),
    }
    for name, response in errors.items():
        assert response.status_code == int(name[:3]), f"{name}: {response.status_code}"
        assert_locked_down(response, f"error page {name}")
    assert errors["405"].headers.get("Allow"), "a 405 must say what is allowed"


def test_rate_limited_and_unavailable_pages_are_locked_down_too(runtime, world) -> None:  # type: ignore[no-untyped-def]
    from tests.support.services import free_port
    from tipline.app import create_app
    from tipline.runtime import Runtime

    runtime.settings = runtime.settings.with_overrides(tip_rate_limit="1 per hour", pow_bits=0)
    client = create_app(runtime=runtime).test_client()
    submit_tip(client)
    limited = submit_tip(client)
    assert limited.status_code == 429
    assert_locked_down(limited, "429")

    down = Runtime(runtime.settings.with_overrides(redis_url=f"redis://127.0.0.1:{free_port()}/0"))
    try:
        response = create_app(runtime=down).test_client().get("/healthz")
        assert response.status_code == 503
        assert_locked_down(response, "503")
    finally:
        down.close()


def test_every_staff_page_is_locked_down(app, client, drain, world) -> None:  # type: ignore[no-untyped-def]
    assert_locked_down(client.get("/staff/login"), "staff login")
    from tests.support.api import routed_tip

    reference = routed_tip(app.test_client(), drain)
    sign_in(client, world["chief"])
    pages = _pages(app, ("/staff/",)) + [f"/staff/tips/{reference}"]
    for path in pages:
        if path == "/staff/login":
            continue
        response = client.get(path)
        assert response.status_code in (200, 302, 403), f"{path}: {response.status_code}"
        assert_locked_down(response, f"GET {path}")
    assert len(pages) >= 8


def test_over_https_browsers_are_told_to_stay_on_https(runtime, world) -> None:  # type: ignore[no-untyped-def]
    from tipline.app import create_app

    plain = create_app(runtime=runtime).test_client().get("/tip")
    assert "Strict-Transport-Security" not in plain.headers  # not over plain http
    runtime.settings = runtime.settings.with_overrides(public_url="https://tips.example.org")
    response = (
        create_app(runtime=runtime).test_client().get("/tip", base_url="https://tips.example.org")
    )
    assert "max-age=" in response.headers.get("Strict-Transport-Security", "")
