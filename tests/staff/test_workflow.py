"""Working a tip through the JSON API and the pages: claim, statuses, dispositions,
notes, tags, links, referral, assignment — and every refusal is clean (no 500)."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import select

from tests.support.api import bearer, routed_tip
from tests.support.forms import csrf_token, sign_in
from tipline.models import AuditEntry, SealedItem, Tip, TipKeyGrant

pytestmark = pytest.mark.embedded


def _post(client, headers, reference: str, action: str, body=None):  # type: ignore[no-untyped-def]
    return client.post(f"/api/v1/tips/{reference}/{action}", json=body, headers=headers)


def _tip(client, headers, reference: str) -> dict:  # type: ignore[no-untyped-def]
    response = client.get(f"/api/v1/tips/{reference}", headers=headers)
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()


def _error(response, status: int, code: str) -> str:  # type: ignore[no-untyped-def]
    assert response.status_code == status, response.get_data(as_text=True)
    body = response.get_json()
    assert body["error"]["code"] == code, body
    return body["error"]["message"]


def test_a_tip_goes_from_new_to_closed_and_each_step_is_audited(
    app, client, drain, world, runtime
) -> None:  # type: ignore[no-untyped-def]
    reference = routed_tip(client, drain)
    api = app.test_client()
    north = bearer(api, world["north"])
    assert _tip(api, north, reference)["status"] == "new"

    assert _post(api, north, reference, "claim").get_json()["outcome"] == "claimed"
    tip = _tip(api, north, reference)
    assert tip["status"] == "in_review" and tip["assignee_id"] == world["north"].id
    assert _post(api, north, reference, "status", {"status": "actioned"}).status_code == 200
    message = _error(
        _post(api, north, reference, "status", {"status": "closed"}), 400, "invalid_input"
    )
    assert "disposition" in message
    closed = _post(api, north, reference, "status", {"status": "closed", "disposition": "arrest"})
    assert closed.status_code == 200
    tip = _tip(api, north, reference)
    assert (tip["status"], tip["disposition"]) == ("closed", "arrest")
    # Stale and impossible moves are refused cleanly.
    _error(
        _post(api, north, reference, "status", {"status": "closed", "disposition": "arrest"}),
        409,
        "conflict",
    )
    _error(_post(api, north, reference, "claim"), 409, "conflict")
    _error(_post(api, north, reference, "status", {"status": "in_review"}), 403, "forbidden")
    chief = bearer(api, world["chief"])
    assert _post(api, chief, reference, "status", {"status": "in_review"}).status_code == 200
    assert _tip(api, chief, reference)["disposition"] is None

    with runtime.sessions() as session:
        row = session.scalars(select(Tip).where(Tip.reference == reference)).one()
        assert row.triaged_at is not None and row.closed_at is None
        actions = [
            (e.actor, e.action)
            for e in session.scalars(select(AuditEntry).order_by(AuditEntry.seq))
            if e.action.startswith("tip.") and e.action != "tip.read"
        ]
    assert actions == [
        (f"staff:{world['north'].id}", "tip.claim"),
        (f"staff:{world['north'].id}", "tip.status"),
        (f"staff:{world['north'].id}", "tip.status"),
        (f"staff:{world['chief'].id}", "tip.status"),
    ]


def test_a_move_made_on_a_stale_view_is_refused(app, client, drain, world) -> None:  # type: ignore[no-untyped-def]
    reference = routed_tip(client, drain)
    api = app.test_client()
    north = bearer(api, world["north"])
    _post(api, north, reference, "status", {"status": "in_review"})
    stale = {"status": "closed", "disposition": "unfounded", "expected": "new"}
    _error(_post(api, north, reference, "status", stale), 409, "conflict")
    assert _tip(api, north, reference)["status"] == "in_review"


def test_two_investigators_claiming_at_once_one_wins(app, client, drain, world) -> None:  # type: ignore[no-untyped-def]
    reference = routed_tip(client, drain)
    clients = [app.test_client(), app.test_client()]
    headers = [bearer(clients[0], world["north"]), bearer(clients[1], world["all"])]
    statuses: list[int] = []
    barrier = threading.Barrier(2)

    def claim(i: int) -> None:
        barrier.wait()
        statuses.append(_post(clients[i], headers[i], reference, "claim").status_code)

    threads = [threading.Thread(target=claim, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(statuses) == [200, 409]


def test_notes_are_sealed_and_shown_only_in_the_unit(app, client, drain, world, runtime) -> None:  # type: ignore[no-untyped-def]
    from tests.security.scan import database_dump

    reference = routed_tip(client, drain)
    api = app.test_client()
    north = bearer(api, world["north"])
    note = "NOTECANARY: the van belongs to a known dealer"
    assert _post(api, north, reference, "notes", {"note": note}).status_code == 200
    notes = _tip(api, north, reference)["notes"]
    assert [(n["author"], n["text"]) for n in notes] == [(world["north"].email, note)]
    assert b"NOTECANARY" not in b"".join(database_dump(runtime.engine).values())
    montreal = bearer(api, world["montreal"])
    _error(_post(api, montreal, reference, "notes", {"note": "x"}), 404, "not_found")
    _error(_post(api, north, reference, "notes", {"note": "  "}), 400, "invalid_input")
    _error(_post(api, north, reference, "notes", {"note": "x" * 10_001}), 413, "too_large")
    with runtime.sessions() as session:
        kinds = session.scalars(select(SealedItem.kind)).all()
    assert list(kinds).count("note") == 1


def test_tags_are_short_labels_and_filter_the_queue(app, client, drain, world) -> None:  # type: ignore[no-untyped-def]
    tagged = routed_tip(client, drain)
    other = routed_tip(client, drain)
    api = app.test_client()
    north = bearer(api, world["north"])
    _error(_post(api, north, tagged, "tags", {"tags": ["John Smith's car"]}), 400, "invalid_input")
    _error(_post(api, north, tagged, "tags", {"tags": 5}), 400, "invalid_input")
    assert (
        _post(api, north, tagged, "tags", {"tags": ["Vehicle", "night-watch"]}).status_code == 200
    )
    assert _tip(api, north, tagged)["tags"] == ["night-watch", "vehicle"]
    page = api.get("/api/v1/queue?tag=vehicle", headers=north).get_json()
    assert [i["reference"] for i in page["items"]] == [tagged]
    assert other not in [i["reference"] for i in page["items"]]


def test_links_never_reveal_a_tip_of_another_unit(app, client, drain, world) -> None:  # type: ignore[no-untyped-def]
    first = routed_tip(client, drain)
    second = routed_tip(client, drain)
    montreal_tip = routed_tip(client, drain, zone="qc-montreal", category="property-crime")
    api = app.test_client()
    north = bearer(api, world["north"])
    hidden = _error(
        _post(api, north, first, "links", {"reference": montreal_tip}), 400, "invalid_input"
    )
    missing = _error(
        _post(api, north, first, "links", {"reference": "ZZZZZZZZZZ"}), 400, "invalid_input"
    )
    assert hidden == missing
    _error(_post(api, north, first, "links", {"reference": first}), 400, "invalid_input")
    body = {"reference": second, "kind": "duplicate"}
    assert _post(api, north, first, "links", body).status_code == 200
    assert _tip(api, north, first)["links"] == [{"kind": "duplicate", "reference": second}]
    assert _tip(api, north, second)["links"] == [{"kind": "duplicate", "reference": first}]


def test_a_referral_moves_the_tip_and_its_key_to_the_other_unit(
    app, client, drain, world, runtime
) -> None:  # type: ignore[no-untyped-def]
    reference = routed_tip(client, drain)
    api = app.test_client()
    north = bearer(api, world["north"])
    montreal = bearer(api, world["montreal"])
    _error(api.get(f"/api/v1/tips/{reference}", headers=montreal), 404, "not_found")
    _error(_post(api, north, reference, "refer", {"unit": "no-such-unit"}), 400, "invalid_input")
    assert _post(api, north, reference, "refer", {"unit": "qc-montreal-general"}).status_code == 200
    tip = _tip(api, montreal, reference)  # the Montreal investigator can open it now
    assert tip["status"] == "referred"
    assert {"unit": "qc-montreal-general", "role": "primary"} in tip["units"]
    assert {"unit": "on-north-general", "role": "info"} in tip["units"]
    assert _tip(api, north, reference)["status"] == "referred"  # North keeps a copy
    with runtime.sessions() as session:
        holders = set(session.scalars(select(TipKeyGrant.holder)))
    assert "unit:qc-montreal-general" in holders
    _error(_post(api, north, reference, "refer", {"unit": "qc-montreal-general"}), 409, "conflict")
    queue = api.get("/api/v1/queue?status=referred", headers=montreal).get_json()
    assert reference in [i["reference"] for i in queue["items"]]


def test_only_supervisors_assign_and_only_to_members(app, client, drain, world) -> None:  # type: ignore[no-untyped-def]
    reference = routed_tip(client, drain)
    api = app.test_client()
    north = bearer(api, world["north"])
    chief = bearer(api, world["chief"])
    body = {"assignee_id": world["north"].id}
    _error(_post(api, north, reference, "assign", body), 403, "forbidden")
    _error(
        _post(api, chief, reference, "assign", {"assignee_id": world["montreal"].id}),
        400,
        "invalid_input",
    )
    _error(_post(api, chief, reference, "assign", {"assignee_id": "x"}), 400, "invalid_input")
    assert _post(api, chief, reference, "assign", body).status_code == 200
    assert _tip(api, chief, reference)["assignee_id"] == world["north"].id
    mine = api.get("/api/v1/queue?assignee=me", headers=north).get_json()["items"]
    assert [i["reference"] for i in mine] == [reference]
    assert _post(api, chief, reference, "release").status_code == 200
    assert _tip(api, chief, reference)["assignee_id"] is None


def test_the_tip_page_works_a_tip_without_javascript(app, client, drain, world) -> None:  # type: ignore[no-untyped-def]
    reference = routed_tip(client, drain)
    staff = app.test_client()
    sign_in(staff, world["north"])
    path = f"/staff/tips/{reference}"

    def act(action: str, **fields: str):  # type: ignore[no-untyped-def]
        fields["csrf_token"] = csrf_token(staff, path)
        return staff.post(f"{path}/{action}", data=fields)

    assert act("claim").status_code == 303
    page = staff.get(path).get_data(as_text=True)
    assert world["north"].email in page and 'id="status-actioned"' in page
    assert act("notes", note="Seen the van twice.").status_code == 303
    response = act(
        "status", status="closed", disposition="information_passed", expected="in_review"
    )
    assert response.status_code == 303
    page = staff.get(path).get_data(as_text=True)
    assert "closed — information passed" in page and "Seen the van twice." in page
    again = act("status", status="closed", disposition="arrest", expected="in_review")
    assert again.status_code == 409 and "changed" in again.get_data(as_text=True)
    bad_csrf = staff.post(f"{path}/claim", data={"csrf_token": "nope"})
    assert bad_csrf.status_code == 400
    assert (
        staff.post(
            f"{path}/no-such-action", data={"csrf_token": csrf_token(staff, path)}
        ).status_code
        == 404
    )
