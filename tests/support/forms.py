"""Helpers that act like a browser on our own forms (CSRF token included)."""

from __future__ import annotations

import re

_TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_token(client, path: str) -> str:  # type: ignore[no-untyped-def]
    page = client.get(path)
    match = _TOKEN.search(page.get_data(as_text=True))
    assert match, f"no CSRF token on {path}"
    return match.group(1)


def submit_tip(client, **fields: str):  # type: ignore[no-untyped-def]
    data = {
        "category": "drugs",
        "zone": "on-north",
        "description": "A blue van delivers packages at night.",
        "lang": "en",
    }
    data.update(fields)
    data["csrf_token"] = csrf_token(client, "/tip")
    return client.post("/tip", data=data)


def reference_from(page: str) -> str:
    match = re.search(r'id="tip-reference"[^>]*>([A-Z0-9]+)<', page)
    assert match, "no tip reference on the receipt"
    return match.group(1)


def post_login(client, account, code: str | None = None, password: str | None = None):  # type: ignore[no-untyped-def]
    """POST the sign-in form as a browser would; returns the response."""
    return client.post(
        "/staff/login",
        data={
            "email": account.email,
            "password": account.password if password is None else password,
            "totp": account.code() if code is None else code,
            "csrf_token": csrf_token(client, "/staff/login"),
        },
    )


def sign_in(client, account) -> None:  # type: ignore[no-untyped-def]
    response = post_login(client, account)
    assert response.status_code == 302, response.get_data(as_text=True)


def passphrase_from(page: str) -> str:
    match = re.search(r'id="tip-passphrase"[^>]*>([a-z -]+)<', page)
    assert match, "no passphrase on the receipt"
    return match.group(1)


def followup_sign_in(client, reference: str, passphrase: str, lang: str = "en"):  # type: ignore[no-untyped-def]
    """POST the follow-up sign-in form as a browser would; returns the response."""
    return client.post(
        f"/followup?lang={lang}",
        data={
            "reference": reference,
            "passphrase": passphrase,
            "lang": lang,
            "csrf_token": csrf_token(client, f"/followup?lang={lang}"),
        },
    )
