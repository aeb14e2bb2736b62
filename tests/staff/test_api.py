"""The JSON API itself: bearer tokens, the OpenAPI document against the URL map, the
queue's filters and keyset pagination, and the error shape for bad input."""

from __future__ import annotations

import pytest
from sqlalchemy import update

from tests.support.api import bearer, routed_tip
from tests.support.forms import sign_in
from tipline.db import transaction
from tipline.models import Staff
from tipline.staff.sessions import cookie_name

pytestmark = pytest.mark.embedded


def _error(response, status: int, code: str) -> str:  # type: ignore[no-untyped-def]
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/json"
    body = response.get_json()
    assert body["error"]["code"] == code, body
    return body["error"]["message"]


def test_a_token_needs_password_and_code_and_can_be_revoked(app, world) -> None:  # type: ignore[no-untyped-def]
    api = app.test_client()
    account = world["north"]
    wrong = {"email": account.email, "password": "wrong", "totp": account.code()}
    _error(api.post("/api/v1/auth/token", json=wrong), 401, "unauthorized")
    _error(api.post("/api/v1/auth/token", json={"email": account.email}), 400, "invalid_input")
    _error(api.post("/api/v1/auth/token", data="email=x"), 400, "invalid_input")
    headers = bearer(api, account)
    assert api.get("/api/v1/queue", headers=headers).status_code == 200
    assert api.delete("/api/v1/auth/token", headers=headers).status_code == 204
    _error(api.get("/api/v1/queue", headers=headers), 401, "unauthorized")


@pytest.mark.parametrize("authorization", [None, "Bearer", "Bearer nonsense", "Basic Zm9vOmJhcg=="])
def test_every_api_route_without_a_valid_token_is_401(app, authorization) -> None:  # type: ignore[no-untyped-def]
    api = app.test_client()
    headers = {"Authorization": authorization} if authorization else {}
    for method, path in (
        ("get", "/api/v1/queue"),
        ("get", "/api/v1/tips/ABCDEFGHJK"),
        ("post", "/api/v1/tips/ABCDEFGHJK/claim"),
        ("get", "/api/v1/tips/ABCDEFGHJK/attachments/" + "0" * 32),
    ):
        _error(getattr(api, method)(path, headers=headers), 401, "unauthorized")


def test_a_page_cookie_is_not_a_token_and_a_token_not_a_cookie(app, world, runtime) -> None:  # type: ignore[no-untyped-def]
    pages = app.test_client()
    sign_in(pages, world["north"])
    cookie = pages.get_cookie(cookie_name(runtime)).value
    api = app.test_client()
    _error(
        api.get("/api/v1/queue", headers={"Authorization": f"Bearer {cookie}"}), 401, "unauthorized"
    )
    token = bearer(api, world["all"])["Authorization"].split()[1]
    other = app.test_client()
    other.set_cookie(cookie_name(runtime), token)
    assert other.get("/staff/").status_code == 302  # back to sign-in


def test_a_deactivated_account_loses_its_token_at_once(app, world, runtime) -> None:  # type: ignore[no-untyped-def]
    api = app.test_client()
    headers = bearer(api, world["north"])
    with transaction(runtime.sessions) as session:
        session.execute(update(Staff).where(Staff.id == world["north"].id).values(active=False))
    try:
        _error(api.get("/api/v1/queue", headers=headers), 401, "unauthorized")
    finally:
        with transaction(runtime.sessions) as session:
            session.execute(update(Staff).where(Staff.id == world["north"].id).values(active=True))


def test_the_openapi_document_describes_exactly_the_api_routes(app) -> None:  # type: ignore[no-untyped-def]
    document = app.test_client().get("/api/v1/openapi.json").get_json()
    assert document["openapi"].startswith("3.")
    described = {
        (method.upper(), path)
        for path, operations in document["paths"].items()
        for method in operations
    }
    from tipline.staff.actions import ACTIONS

    served = set()
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/v1/"):
            continue
        path = rule.rule.removeprefix("/api/v1").replace("<reference>", "{reference}")
        path = path.replace("<item_key>", "{item_key}")
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            if "<action>" in path:  # one rule serves every action: each is documented
                served |= {(method, path.replace("<action>", a)) for a in ACTIONS}
            else:
                served.add((method, path))
    assert described == served


def test_the_queue_pages_with_a_cursor_and_never_repeats(app, client, drain, world) -> None:  # type: ignore[no-untyped-def]
    references = {
        routed_tip(client, drain, description=f"Tip number {i} about a van.") for i in range(7)
    }
    api = app.test_client()
    north = bearer(api, world["north"])
    for sort in ("newest", "oldest", "priority"):
        seen: list[str] = []
        cursor = None
        pages = 0
        while True:
            query = f"/api/v1/queue?limit=3&sort={sort}" + (f"&cursor={cursor}" if cursor else "")
            page = api.get(query, headers=north).get_json()
            seen += [item["reference"] for item in page["items"]]
            pages += 1
            cursor = page["next_cursor"]
            if cursor is None:
                break
        assert pages == 3 and len(seen) == 7 and set(seen) == references, sort
    newest = api.get("/api/v1/queue?limit=3", headers=north).get_json()
    _error(
        api.get(f"/api/v1/queue?sort=oldest&cursor={newest['next_cursor']}", headers=north),
        400,
        "invalid_input",
    )


@pytest.mark.parametrize(
    "query",
    [
        "status=open-ish",
        "priority=urgent,maybe",
        "sort=random",
        "assignee=bob",
        "older_than_hours=-3",
        "tag=Not A Tag",
        "breached=yes",
        "limit=0",
        "limit=201",
        "limit=ten",
        "cursor=%%%",
        "cursor=WyJuZXdlc3QiXQ",
        "stauts=closed",  # a misspelt filter must not answer with every tip
        # Empty where the document does not allow it (found by schemathesis under --long)
        "assignee=",
        "breached=",
        "sort=",
        "older_than_hours=",
        "limit=",
    ],
)
def test_bad_queue_parameters_are_400_with_the_error_shape(app, world, query) -> None:  # type: ignore[no-untyped-def]
    api = app.test_client()
    headers = bearer(api, world["north"])
    _error(api.get(f"/api/v1/queue?{query}", headers=headers), 400, "invalid_input")


def test_queue_filters_narrow_and_other_units_stay_invisible(app, client, drain, world) -> None:  # type: ignore[no-untyped-def]
    drugs = routed_tip(client, drain, category="drugs")
    fraud = routed_tip(client, drain, category="fraud-scams")
    montreal = routed_tip(client, drain, zone="qc-montreal", category="property-crime")
    api = app.test_client()
    north = bearer(api, world["north"])

    def refs(query: str) -> set[str]:
        page = api.get(f"/api/v1/queue?{query}", headers=north).get_json()
        return {item["reference"] for item in page["items"]}

    assert refs("") == {drugs, fraud}
    # Empty is "no filter" where the document says so (the queue page's form sends it).
    assert refs("status=&priority=&tag=&unit=&category=&zone=&cursor=") == {drugs, fraud}
    assert refs("category=fraud-scams") == {fraud}
    assert refs("unit=qc-montreal-general") == set()  # not theirs: empty, not an error
    assert refs("unit=on-north-general&zone=on-north") == {drugs, fraud}
    assert montreal not in refs("status=new,in_review,actioned,referred,closed")


def test_api_errors_are_json_and_never_500(app, client, drain, world) -> None:  # type: ignore[no-untyped-def]
    reference = routed_tip(client, drain)
    api = app.test_client()
    headers = bearer(api, world["north"])
    _error(api.get("/api/v1/tips/ZZZZZZZZZZ", headers=headers), 404, "not_found")
    _error(
        api.post(f"/api/v1/tips/{reference}/teleport", json={}, headers=headers), 404, "not_found"
    )
    _error(
        api.post(
            f"/api/v1/tips/{reference}/notes",
            data="not json",
            headers={**headers, "Content-Type": "application/json"},
        ),
        400,
        "invalid_input",
    )
    _error(
        api.post(f"/api/v1/tips/{reference}/notes", json=["a list"], headers=headers),
        400,
        "invalid_input",
    )
    _error(
        api.post(f"/api/v1/tips/{reference}/status", json={"status": 3}, headers=headers),
        400,
        "invalid_input",
    )
    _error(api.get("/api/v1/nowhere", headers=headers), 404, "http_error")
    _error(api.put("/api/v1/queue", headers=headers), 405, "http_error")
    _error(
        api.get(f"/api/v1/tips/{reference}/attachments/{'0' * 32}", headers=headers),
        404,
        "not_found",
    )


def test_json_nested_too_deeply_is_a_400_at_every_body_never_a_500(
    app, client, drain, world
) -> None:  # type: ignore[no-untyped-def]
    """Found from outside (issue 16): 100,000 brackets made the parser raise
    RecursionError, which get_json(silent=True) does not catch, and the answer was 500."""
    reference = routed_tip(client, drain)
    api = app.test_client()
    headers = bearer(api, world["north"])
    json_headers = {**headers, "Content-Type": "application/json"}
    brackets = "[" * 100_000 + "]" * 100_000
    just_too_deep = "[" * 33 + "]" * 33  # parses fine, but past the bound
    note_deep = '{"note": ' + "[" * 5_000 + "]" * 5_000 + "}"
    for path, body in [
        ("/api/v1/auth/token", brackets),
        ("/api/v1/auth/token", just_too_deep),
        (f"/api/v1/tips/{reference}/notes", note_deep),
        (f"/api/v1/tips/{reference}/tags", brackets),
    ]:
        response = api.post(path, data=body, headers=json_headers)
        assert response.status_code == 400, (path, response.status_code)
        error = response.get_json()["error"]
        assert error["code"] == "invalid_input" and "at most 32 levels" in error["message"]
    # Within the bound, the body is read as before: a note is a string, so this one is
    # refused for its type, not its depth.
    shallow = api.post(f"/api/v1/tips/{reference}/notes", json={"note": [["a"]]}, headers=headers)
    assert shallow.status_code == 400
    assert "levels" not in shallow.get_json()["error"]["message"]
    added = api.post(f"/api/v1/tips/{reference}/notes", json={"note": "fine"}, headers=headers)
    assert added.status_code == 200, added.get_data(as_text=True)
