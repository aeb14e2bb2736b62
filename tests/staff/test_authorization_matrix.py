"""Every staff page and API call, as every kind of person, generated from the URL map.

Who: nobody (no session or token), a member of the tip's unit (investigator), a
supervisor of it, an investigator of another unit, a supervisor of another unit only, and
an administrator of no unit: each role, in the tip's unit and outside it.
What: each route × method, with a plausible request (valid CSRF token or bearer token,
and every field an action reads). The rules checked:
- without a session every page redirects to sign-in and every API call is 401;
- nobody outside the tip's unit reads or changes it, whatever their role: every tip
  route answers 404, no answer carries its reference or text, and its rows are byte for
  byte unchanged;
- roles hold: accounts are for admins, unit members and the audit trail for supervisors,
  and a unit's members only for its own supervisors;
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


@pytest.fixture
def other_supervisor(make_account):  # type: ignore[no-untyped-def]
    """A supervisor of Montreal only: the role, without membership of the tip's unit."""
    return make_account("montreal-chief@example.test", "supervisor", ("qc-montreal-general",))


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


# What each kind of signed-in person gets from the routes that are not about one tip,
# as (method, rule) -> {who: status}. "member" is the North investigator, "supervisor"
# the supervisor of every unit; "outsider" an investigator of another unit; "outside
# supervisor" a supervisor of another unit only; "admin" an administrator of no unit. A
# route missing here fails the matrix until its rule is written down. The outside
# supervisor's units page and audit trail answer 200: each covers their own units only
# (admin.my_units, admin.audit_trail), never the tip's. Statistics answer 200 to every
# supervisor and admin alike: they count every unit's tips, suppressed, from the same
# monthly releases (tipline/stats/ledger.py) — no tip and no unit of its own.
ANYONE = {
    "member": 200,
    "supervisor": 200,
    "outsider": 200,
    "outside supervisor": 200,
    "admin": 200,
}
SUPERVISORS = {
    "member": 403,
    "supervisor": 200,
    "outsider": 403,
    "outside supervisor": 200,
    "admin": 200,
}
ADMINS_ONLY = {
    "member": 403,
    "supervisor": 403,
    "outsider": 403,
    "outside supervisor": 403,
    "admin": 200,
}
EXPECTED = {
    ("GET", "/staff/"): ANYONE,
    ("GET", "/staff/password"): ANYONE,
    ("POST", "/staff/password"): {k: 400 for k in ANYONE},  # the current password is wrong
    ("GET", "/api/v1/queue"): ANYONE,  # everyone's queue is their own units'
    ("GET", "/api/v1/stats"): SUPERVISORS,
    ("GET", "/staff/stats"): SUPERVISORS,
    ("GET", "/staff/stats/export"): SUPERVISORS,
    ("GET", "/staff/audit"): SUPERVISORS,
    ("GET", "/staff/units"): SUPERVISORS,
    ("GET", "/staff/accounts"): ADMINS_ONLY,
    ("POST", "/staff/accounts"): {**ADMINS_ONLY, "admin": 400},  # the matrix's fields
    ("POST", "/staff/accounts/<staff_id>/<change>"): {**ADMINS_ONLY, "admin": 303},
    # A unit's members are managed by that unit's supervisors; to a supervisor or an
    # admin outside the unit, the unit's membership is "not yours".
    ("POST", "/staff/units/<slug>/members"): {
        "member": 403, "supervisor": 303, "outsider": 403, "outside supervisor": 404,
        "admin": 404,
    },
    ("POST", "/staff/units/<slug>/members/<staff_id>/remove"): {
        "member": 403, "supervisor": 303, "outsider": 403, "outside supervisor": 404,
        "admin": 404,
    },
}  # fmt: skip


def _expected(who: str, method: str, rule: str) -> int:
    assert (method, rule) in EXPECTED, f"{method} {rule}: write down who may use it in EXPECTED"
    return EXPECTED[(method, rule)][who]


def _documented(url: str, method: str, reference: str, item_key: str) -> set[str]:
    """The status codes the OpenAPI document declares for this API call."""
    from tipline.staff.openapi import document

    path = url.removeprefix("/api/v1").replace(reference, "{reference}")
    path = path.replace(item_key, "{item_key}")
    operation = document()["paths"].get(path, {}).get(method.lower())
    assert operation is not None, f"{method} {url}: not in the OpenAPI document"
    return set(operation["responses"])


def _api_operations() -> set[tuple[str, str]]:
    from tipline.staff.openapi import document

    return {
        (method.upper(), path)
        for path, item in document()["paths"].items()
        for method in item
        if "/api/v1" + path not in PUBLIC
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
    app, client, drain, runtime, world, target, admin_account, other_supervisor, newcomer
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
        "supervisor of another unit": Person(app, runtime, other_supervisor),
        "admin of no unit": Person(app, runtime, admin_account),
    }
    keys = {
        "other unit": "outsider",
        "supervisor of another unit": "outside supervisor",
        "admin of no unit": "admin",
    }
    fields = _fields(world["north"].id, other, newcomer.email)
    checked = 0
    covered: set[tuple[str, str]] = set()
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
                else:
                    assert status == _expected(keys[who], method, rule), where
                if url.startswith("/api/"):
                    assert str(status) in _documented(url, method, reference, item_key), (
                        f"{where}: a status the OpenAPI document does not declare"
                    )
                    covered.add((method, url))
                checked += 1
    assert _snapshot(runtime, reference) == before  # not one row changed
    assert checked > 100
    # Every operation of the OpenAPI document was part of the matrix.
    walked = {
        (
            method,
            url.removeprefix("/api/v1")
            .replace(reference, "{reference}")
            .replace(item_key, "{item_key}"),
        )
        for method, url in covered
    }
    assert _api_operations() <= walked, f"not in the matrix: {_api_operations() - walked}"


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
            status = response.status_code
            where = f"{who}: {method} {url} -> {status}"
            assert status < 500, where
            if "<reference>" not in rule:
                key = "supervisor" if who == "chief" else "member"
                assert status == _expected(key, method, rule), where
            elif method == "GET":
                assert status == 200, where  # a member reads the tip and its files
            else:
                # An action: done (200/303), not for this role (403), or not possible in
                # the tip's state (409), never "not found" for a member.
                assert status in (200, 303, 403, 409), where
            if url.startswith("/api/"):
                assert str(status) in _documented(url, method, reference, item_key), where
            statuses[(method, url)] = status
    assert statuses[("GET", f"/staff/tips/{reference}")] == 200
    assert statuses[("GET", f"/api/v1/tips/{reference}")] == 200
    assert statuses[("GET", f"/api/v1/tips/{reference}/attachments/{item_key}")] == 200
    role_only = ("GET", "/staff/accounts")
    assert statuses[role_only] == 403  # neither is an admin
    assert statuses[("GET", "/staff/audit")] == (200 if who == "chief" else 403)
    assert statuses[("POST", f"/api/v1/tips/{reference}/reward")] == (
        200 if who == "chief" else 403
    )
