"""Every staff page and API call, as every kind of person, generated from the URL map.

Who: nobody (no session or token), a member of the tip's unit (investigator), a
supervisor of it, an investigator of another unit, and an administrator of no unit.
What: each route × method, with a plausible request (valid CSRF token or bearer token,
and every field an action reads). The rules checked:
- without a session every page redirects to sign-in and every API call is 401;
- nobody outside the tip's unit reads or changes it: every tip route answers 404, no
  answer carries its reference or text, and its rows are byte for byte unchanged;
- roles hold: accounts are for admins, unit members and the audit trail for supervisors;
- no combination answers 500.
"""

from __future__ import annotations

import io
import re

import pytest
from sqlalchemy import select, update

from tests.support.forms import csrf_token, sign_in
from tipline.models import SealedItem, Staff, Tip, TipKeyGrant, TipLink, TipTag, TipUnit
from tipline.staff.actions import ACTIONS

pytestmark = pytest.mark.embedded

DESCRIPTION = "MATRIXCANARY: the boat shed on the north shore holds the stolen engines."
PUBLIC = {"/staff/login", "/staff/logout", "/api/v1/openapi.json", "/api/v1/auth/token"}


def _fresh_code(runtime, account) -> None:  # type: ignore[no-untyped-def]
    # Each account signs in twice here (page and API) within one 30-second TOTP step:
    # forget the last step used, as the next step would.
    with runtime.sessions() as session:
        session.execute(update(Staff).where(Staff.id == account.id).values(totp_last_counter=0))
        session.commit()


@pytest.fixture
def target(client, drain, runtime):  # type: ignore[no-untyped-def]
    """A North tip with an attachment; returns (reference, attachment item key)."""
    data = {
        "category": "property-crime",
        "zone": "on-north",
        "description": DESCRIPTION,
        "lang": "en",
        "csrf_token": csrf_token(client, "/tip"),
        "attachments": (io.BytesIO(b"engine serials\n"), "list.txt"),
    }
    page = client.post("/tip", data=data, content_type="multipart/form-data")
    reference = re.search(
        r'id="tip-reference"[^>]*>([A-Z0-9]+)<', page.get_data(as_text=True)
    ).group(1)
    drain()
    with runtime.sessions() as session:
        item_key = session.scalars(
            select(SealedItem.item_key).where(SealedItem.kind == "attachment")
        ).one()
    return reference, item_key


def _snapshot(runtime, reference: str) -> tuple:  # type: ignore[no-untyped-def]
    with runtime.sessions() as session:
        tip = session.scalars(select(Tip).where(Tip.reference == reference)).one()
        state = (tip.status, tip.disposition, tip.assignee_id, tip.priority, tip.zone)
        rows = []
        for model in (SealedItem, TipKeyGrant, TipUnit, TipTag):
            rows.append(
                sorted(
                    map(
                        repr,
                        session.execute(
                            select(model.__table__).where(model.tip_id == tip.id)
                        ).all(),
                    )
                )
            )
        rows.append(sorted(map(repr, session.execute(select(TipLink.__table__)).all())))
        return state, rows


def _routes(app) -> list[tuple[str, str]]:  # type: ignore[no-untyped-def]
    found = []
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith(("/staff", "/api/v1")) or rule.rule in PUBLIC:
            continue
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            found.append((method, rule.rule))
    return found


def _urls(rule: str, reference: str, item_key: str, victim_id: int) -> list[str]:
    url = (
        rule.replace("<reference>", reference)
        .replace("<item_key>", item_key)
        .replace("<slug>", "on-north-general")
        .replace("<staff_id>", str(victim_id))
    )
    if "<action>" in url:
        return [url.replace("<action>", action) for action in ACTIONS]
    if "<change>" in url:
        return [url.replace("<change>", change) for change in ("role", "deactivate", "activate")]
    return [url]


def _fields(victim_id: int, other_reference: str, newcomer_email: str) -> dict[str, str]:
    """Every field any action reads, with values that would succeed for a member. Only
    the throwaway newcomer is ever granted a unit (never an account of the shared world)."""
    return {
        "status": "in_review",
        "disposition": "",
        "note": "MATRIXNOTE",
        "tags": "matrix-tag",
        "reference": other_reference,
        "kind": "related",
        "unit": "qc-montreal-general",
        "message": "MATRIXQUESTION",
        "decision": "approved",
        "assignee_id": str(victim_id),
        "email": newcomer_email,
        "role": "supervisor",
        "password": "wrong password",
        "new_password": "another long password",
    }


class Person:
    def __init__(self, app, runtime, account) -> None:  # type: ignore[no-untyped-def]
        self.page = app.test_client()
        self.api = app.test_client()
        self.headers: dict[str, str] = {}
        if account is not None:
            _fresh_code(runtime, account)
            sign_in(self.page, account)
            _fresh_code(runtime, account)
            response = self.api.post(
                "/api/v1/auth/token",
                json={"email": account.email, "password": account.password, "totp": account.code()},
            )
            self.headers = {"Authorization": f"Bearer {response.get_json()['token']}"}
        self.csrf = csrf_token(self.page, "/staff/login")

    def call(self, method: str, url: str, fields: dict[str, str]):  # type: ignore[no-untyped-def]
        if url.startswith("/api/"):
            body = {k: v for k, v in fields.items() if k not in ("password", "new_password")}
            body["tags"] = [body["tags"]]
            body["assignee_id"] = int(body["assignee_id"])
            kwargs = {"json": body} if method != "GET" else {}
            return self.api.open(url, method=method, headers=self.headers, **kwargs)
        data = {**fields, "csrf_token": self.csrf} if method != "GET" else None
        return self.page.open(url, method=method, data=data)


def test_nobody_outside_a_unit_reads_or_changes_its_tips(
    app, client, drain, runtime, world, target, admin_account, newcomer
) -> None:  # type: ignore[no-untyped-def]
    from tests.support.api import routed_tip

    reference, item_key = target
    other = routed_tip(client, drain, zone="qc-montreal", category="property-crime")
    before = _snapshot(runtime, reference)
    routes = _routes(app)
    assert len(routes) >= 15  # the matrix really walks the app (actions expand further)
    outsiders = {
        "nobody": Person(app, runtime, None),
        "other unit": Person(app, runtime, world["montreal"]),
        "admin of no unit": Person(app, runtime, admin_account),
    }
    fields = _fields(world["north"].id, other, newcomer.email)
    checked = 0
    for who, person in outsiders.items():
        for method, rule in routes:
            # Account routes act on a throwaway account: the admin may really change it.
            for url in _urls(rule, reference, item_key, newcomer.id):
                response = person.call(method, url, fields)
                status = response.status_code
                text = response.get_data(as_text=True)
                where = f"{who}: {method} {url} -> {status}"
                assert status < 500, where
                assert reference not in text and "MATRIXCANARY" not in text, where
                if who == "nobody":
                    expected = 401 if url.startswith("/api/") else 302
                    assert status == expected, where
                elif "<reference>" in rule:
                    assert status == 404, where
                checked += 1
    assert _snapshot(runtime, reference) == before  # not one row changed
    assert checked > 100


@pytest.mark.parametrize("who", ["north", "chief"])
def test_members_get_answers_never_errors(
    app, client, drain, runtime, world, target, who, newcomer
) -> None:  # type: ignore[no-untyped-def]
    from tests.support.api import routed_tip

    reference, item_key = target
    other = routed_tip(client, drain)  # another North tip, to link to
    person = Person(app, runtime, world[who])
    fields = _fields(world["north"].id, other, newcomer.email)
    statuses = {}
    for method, rule in _routes(app):
        for url in _urls(rule, reference, item_key, newcomer.id):
            response = person.call(method, url, fields)
            assert response.status_code < 500, f"{who}: {method} {url} -> {response.status_code}"
            statuses[(method, url)] = response.status_code
    assert statuses[("GET", f"/staff/tips/{reference}")] == 200
    assert statuses[("GET", f"/api/v1/tips/{reference}")] == 200
    assert statuses[("GET", f"/api/v1/tips/{reference}/attachments/{item_key}")] == 200
    role_only = ("GET", "/staff/accounts")
    assert statuses[role_only] == 403  # neither is an admin
    assert statuses[("GET", "/staff/audit")] == (200 if who == "chief" else 403)
    assert statuses[("POST", f"/api/v1/tips/{reference}/reward")] == (
        200 if who == "chief" else 403
    )
