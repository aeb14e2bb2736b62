"""U+0000 anywhere a lookup reads it is a clear 400, never a database error.

PostgreSQL text cannot hold NUL: before the guard in tipline.app, a reference in a URL,
an email at sign-in or a zone filter carrying one was a 500 (found by schemathesis under
``--long``: POST /api/v1/auth/token with the email "\\u0000"). SQLite stores NUL, so the
embedded run checks the same answers. A tipster's free text is sealed, never a text
column: their form keeps such a tip rather than losing it.
"""

from __future__ import annotations

import pytest

from tests.support.api import bearer
from tests.support.forms import csrf_token, reference_from, sign_in, submit_tip

pytestmark = pytest.mark.embedded

NUL = "a\x00b"
MESSAGE = "cannot be used (U+0000)"

API_GETS = [
    "/api/v1/queue?zone=a%00b",
    "/api/v1/queue?category=a%00b",
    "/api/v1/queue?unit=a%00b",
    "/api/v1/tips/AB%00CDEFGH",
    "/api/v1/stats?zone=a%00b",
]
PAGE_GETS = ["/staff/?zone=a%00b", "/staff/?category=a%00b", "/staff/tips/AB%00CDEFGH"]


def test_api_lookups_refuse_nul_with_the_error_shape(app, world) -> None:  # type: ignore[no-untyped-def]
    api = app.test_client()
    headers = bearer(api, world["north"])
    for path in API_GETS:
        response = api.get(path, headers=headers)
        assert response.status_code == 400, path
        assert MESSAGE in response.get_json()["error"]["message"], path
    response = api.post(
        "/api/v1/auth/token", json={"email": NUL, "password": "x", "totp": "000000"}
    )
    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == "invalid_input"


def test_staff_pages_and_sign_in_refuse_nul(app, world) -> None:  # type: ignore[no-untyped-def]
    staff = app.test_client()
    sign_in(staff, world["chief"])
    for path in PAGE_GETS:
        response = staff.get(path)
        assert response.status_code == 400, path
        assert MESSAGE in response.get_data(as_text=True), path
    login = app.test_client()
    token = csrf_token(login, "/staff/login")
    response = login.post(
        "/staff/login",
        data={"email": NUL, "password": "x", "totp": "000000", "csrf_token": token},
    )
    assert response.status_code == 400
    assert MESSAGE in response.get_data(as_text=True)


def test_a_tipster_text_with_nul_is_kept(client) -> None:  # type: ignore[no-untyped-def]
    response = submit_tip(client, description="The van comes at night " + NUL)
    assert response.status_code == 200
    assert reference_from(response.get_data(as_text=True))
