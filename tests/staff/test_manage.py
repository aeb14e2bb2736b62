"""Managing people: admins manage accounts, supervisors who hold a unit's key grant it,
everyone changes their own password; the audit trail by role. Roles are enforced."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from tests.support.api import bearer, routed_tip
from tests.support.forms import csrf_token, post_login, sign_in
from tipline.models import AuditEntry, Staff

pytestmark = pytest.mark.embedded


def _post(client, path: str, form_page: str, **fields: str):  # type: ignore[no-untyped-def]
    fields["csrf_token"] = csrf_token(client, form_page)
    return client.post(path, data=fields)


def test_an_admin_creates_an_account_that_can_sign_in(app, admin_account, runtime) -> None:  # type: ignore[no-untyped-def]
    import pyotp

    admin = app.test_client()
    sign_in(admin, admin_account)
    page = _post(
        admin, "/staff/accounts", "/staff/accounts", email="Fresh@Example.test", role="investigator"
    )
    assert page.status_code == 200 and page.headers["Cache-Control"] == "no-store"
    html = page.get_data(as_text=True)
    password = re.search(r'id="new-password">([^<]+)<', html).group(1)
    secret = re.search(r"secret=([A-Z2-7]+)", html).group(1)
    fresh = app.test_client()
    response = fresh.post(
        "/staff/login",
        data={
            "email": "fresh@example.test",
            "password": password,
            "totp": pyotp.TOTP(secret).now(),
            "csrf_token": csrf_token(fresh, "/staff/login"),
        },
    )
    assert response.status_code == 302
    # Changing the one-time password keeps the account's key (and so its units).
    changed = _post(
        fresh,
        "/staff/password",
        "/staff/password",
        password=password,
        new_password="a much longer passphrase",
    )
    assert changed.status_code == 303
    with runtime.sessions() as session:
        staff = session.scalars(select(Staff).where(Staff.email == "fresh@example.test")).one()
        session.delete(staff)
        session.commit()


def test_only_admins_manage_accounts_and_never_their_own(app, admin_account, world) -> None:  # type: ignore[no-untyped-def]
    chief = app.test_client()
    sign_in(chief, world["chief"])
    assert chief.get("/staff/accounts").status_code == 403
    assert (
        _post(chief, "/staff/accounts", "/staff/", email="x@example.test", role="admin").status_code
        == 403
    )
    admin = app.test_client()
    sign_in(admin, admin_account)
    me = admin_account.id
    assert _post(admin, f"/staff/accounts/{me}/deactivate", "/staff/accounts").status_code == 409
    assert (
        _post(
            admin, f"/staff/accounts/{me}/role", "/staff/accounts", role="investigator"
        ).status_code
        == 409
    )
    assert (
        _post(
            admin, f"/staff/accounts/{world['north'].id}/role", "/staff/accounts", role="god"
        ).status_code
        == 400
    )
    assert _post(admin, "/staff/accounts/999999/deactivate", "/staff/accounts").status_code == 404
    assert (
        _post(
            admin,
            "/staff/accounts",
            "/staff/accounts",
            email="north@example.test",
            role="investigator",
        ).status_code
        == 400
    )


def test_a_deactivated_account_is_signed_out_everywhere(app, admin_account, newcomer) -> None:  # type: ignore[no-untyped-def]
    # (A deactivated account's API tokens: tests/staff/test_api.py.)
    person = app.test_client()
    sign_in(person, newcomer)
    admin = app.test_client()
    sign_in(admin, admin_account)
    assert (
        _post(admin, f"/staff/accounts/{newcomer.id}/deactivate", "/staff/accounts").status_code
        == 303
    )
    assert person.get("/staff/").status_code == 302  # to sign-in
    assert post_login(app.test_client(), newcomer).status_code == 401


def test_a_supervisor_grants_a_unit_and_the_newcomer_reads_its_tips(
    app, client, drain, world, newcomer
) -> None:  # type: ignore[no-untyped-def]
    reference = routed_tip(client, drain)
    newbie = app.test_client()
    newbie_token = bearer(newbie, newcomer)
    assert newbie.get(f"/api/v1/tips/{reference}", headers=newbie_token).status_code == 404
    chief = app.test_client()
    sign_in(chief, world["chief"])
    added = _post(
        chief,
        "/staff/units/on-north-general/members",
        "/staff/units",
        email="newcomer@example.test",
    )
    assert added.status_code == 303
    assert "newcomer@example.test" in chief.get("/staff/units").get_data(as_text=True)
    assert newbie.get(f"/api/v1/tips/{reference}", headers=newbie_token).status_code == 200
    removed = _post(
        chief, f"/staff/units/on-north-general/members/{newcomer.id}/remove", "/staff/units"
    )
    assert removed.status_code == 303
    assert newbie.get(f"/api/v1/tips/{reference}", headers=newbie_token).status_code == 404


def test_granting_needs_the_unit_key_and_the_right_role(
    app, world, admin_account, newcomer
) -> None:  # type: ignore[no-untyped-def]
    north = app.test_client()  # an investigator
    sign_in(north, world["north"])
    assert north.get("/staff/units").status_code == 403
    assert (
        _post(
            north, "/staff/units/on-north-general/members", "/staff/", email=newcomer.email
        ).status_code
        == 403
    )
    admin = app.test_client()  # an admin holds no unit key
    sign_in(admin, admin_account)
    assert (
        _post(
            admin, "/staff/units/on-north-general/members", "/staff/accounts", email=newcomer.email
        ).status_code
        == 404
    )
    chief = app.test_client()
    sign_in(chief, world["chief"])
    assert (
        _post(
            chief, "/staff/units/no-such-unit/members", "/staff/units", email=newcomer.email
        ).status_code
        == 404
    )
    assert (
        _post(
            chief,
            "/staff/units/on-north-general/members",
            "/staff/units",
            email="nobody@example.test",
        ).status_code
        == 400
    )


def test_the_audit_trail_by_role(app, client, drain, world, admin_account, runtime) -> None:  # type: ignore[no-untyped-def]
    north_tip = routed_tip(client, drain)
    api = app.test_client()
    north = bearer(api, world["north"])
    assert api.get(f"/api/v1/tips/{north_tip}", headers=north).status_code == 200
    chief = app.test_client()
    sign_in(chief, world["chief"])
    trail = chief.get("/staff/audit").get_data(as_text=True)
    assert north_tip in trail and "tip.read" in trail
    assert "staff.sign_in" not in trail  # not about their units
    investigator = app.test_client()
    sign_in(investigator, world["montreal"])
    assert investigator.get("/staff/audit").status_code == 403
    admin = app.test_client()
    sign_in(admin, admin_account)
    everything = admin.get("/staff/audit").get_data(as_text=True)
    assert "staff.sign_in" in everything and north_tip in everything
    # An admin reads no tip content without a unit.
    assert admin.get(f"/staff/tips/{north_tip}").status_code == 404
    assert admin.get("/staff/audit?before=x").status_code == 400
    with runtime.sessions() as session:
        assert session.scalar(select(AuditEntry).where(AuditEntry.action == "tip.read")) is not None


def test_a_wrong_current_password_changes_nothing(app, newcomer) -> None:  # type: ignore[no-untyped-def]
    person = app.test_client()
    sign_in(person, newcomer)
    wrong = _post(
        person,
        "/staff/password",
        "/staff/password",
        password="not it",
        new_password="a much longer passphrase",
    )
    assert wrong.status_code == 400
    short = _post(
        person,
        "/staff/password",
        "/staff/password",
        password=newcomer.password,
        new_password="short",
    )
    assert short.status_code == 400
    assert (
        post_login(app.test_client(), newcomer, code="000000").status_code == 401
    )  # still the old password (code aside)
