from __future__ import annotations

import json
import re

import pytest
from sqlalchemy import func, select

from tests.support.forms import csrf_token, reference_from, submit_tip
from tipline.crypto import hierarchy as h
from tipline.models import OutboxEntry, SealedItem, Tip, TipKeyGrant, TipUnit, Unit

pytestmark = pytest.mark.embedded


def _count(runtime, model) -> int:  # type: ignore[no-untyped-def]
    with runtime.sessions() as session:
        return session.scalar(select(func.count()).select_from(model))


def test_form_lists_categories_and_zones_and_needs_no_javascript(client) -> None:  # type: ignore[no-untyped-def]
    page = client.get("/tip")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert 'value="organized-crime"' in html and 'value="on-north"' in html
    # The only script is our own optional proof of work, loaded from our origin; the form
    # itself is plain HTML (the browser tests send tips with JavaScript off).
    scripts = re.findall(r"<script[^>]*>", html)
    assert scripts == ['<script src="/static/pow.js" defer>']
    assert "default-src 'none'" in page.headers["Content-Security-Policy"]
    assert page.headers["Referrer-Policy"] == "no-referrer"
    assert page.headers["Cache-Control"] == "no-store"


def test_tip_is_sealed_staged_with_outbox_and_receipt_shows_reference(
    client, runtime, recovery_key
) -> None:  # type: ignore[no-untyped-def]
    description = "Drugs are sold behind the arena every Friday."
    response = submit_tip(client, category="drugs", zone="on-north", description=description)
    assert response.status_code == 200
    reference = reference_from(response.get_data(as_text=True))
    with runtime.sessions() as session:
        tip = session.scalars(select(Tip).where(Tip.reference == reference)).one()
        assert (tip.category, tip.zone, tip.channel) == ("drugs", "on-north", "web")
        assert tip.received_at.minute == 0 and tip.received_at.second == 0  # truncated to the hour
        roles = dict(
            session.execute(
                select(Unit.slug, TipUnit.role)
                .join(TipUnit, TipUnit.unit_id == Unit.id)
                .where(TipUnit.tip_id == tip.id)
            ).all()
        )
        # Drugs in Ontario: the North general unit leads, provincial organized crime gets a copy.
        assert roles["on-north-general"] == "primary"
        assert roles["on-organized-crime"] == "info"
        holders = {
            g.holder
            for g in session.scalars(select(TipKeyGrant).where(TipKeyGrant.tip_id == tip.id))
        }
        assert holders == {
            "recovery",
            "tipster",
            "unit:on-north-general",
            "unit:on-organized-crime",
        }
        outbox = session.scalars(select(OutboxEntry).where(OutboxEntry.tip_id == tip.id)).one()
        assert outbox.job == "route_tip"
        assert outbox.created_at == tip.received_at  # truncated like the tip, never exact
        body = session.scalars(select(SealedItem).where(SealedItem.tip_id == tip.id)).one()
        assert description.encode() not in body.ciphertext
        # The recovery key opens the tip key, and the tip key opens the body.
        grant = session.scalars(
            select(TipKeyGrant).where(
                TipKeyGrant.tip_id == tip.id, TipKeyGrant.holder == "recovery"
            )
        ).one()
        tip_key = h.open_tip_key(recovery_key, grant.sealed_key, reference, "recovery", 1)
        opened = json.loads(
            h.open_tip_item(tip_key, reference, "body", body.item_key, body.ciphertext)
        )
        assert opened["description"] == description


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"category": ""}, "choose what the tip is about"),
        ({"category": "jaywalking"}, "category is not one we know"),
        ({"zone": ""}, "choose where it happened"),
        ({"zone": "atlantis"}, "area is not one we know"),
        ({"description": "short"}, "at least 10 characters"),
        ({"website": "http://spam.example"}, "Leave this empty"),
    ],
)
def test_bad_input_gets_a_plain_400_and_nothing_is_stored(client, runtime, fields, message) -> None:  # type: ignore[no-untyped-def]
    response = submit_tip(client, **fields)
    assert response.status_code == 400
    assert message in response.get_data(as_text=True)
    assert _count(runtime, Tip) == 0 and _count(runtime, OutboxEntry) == 0


def test_bad_input_keeps_what_the_tipster_wrote(client) -> None:  # type: ignore[no-untyped-def]
    response = submit_tip(client, zone="atlantis", description="Keep this text please, it matters.")
    assert "Keep this text please, it matters." in response.get_data(as_text=True)


def test_oversized_request_is_413_and_nothing_is_stored(client, runtime) -> None:  # type: ignore[no-untyped-def]
    response = submit_tip(client, description="x" * (runtime.settings.max_field_bytes + 10))
    assert response.status_code == 413
    assert _count(runtime, Tip) == 0


def test_description_over_the_limit_is_413(client, runtime) -> None:  # type: ignore[no-untyped-def]
    limit = runtime.settings.max_description_chars
    runtime.settings = runtime.settings.with_overrides(max_description_chars=100)
    try:
        response = submit_tip(client, description="y" * 101)
    finally:
        runtime.settings = runtime.settings.with_overrides(max_description_chars=limit)
    assert response.status_code == 413
    assert _count(runtime, Tip) == 0


def test_missing_csrf_token_is_refused(client, runtime) -> None:  # type: ignore[no-untyped-def]
    csrf_token(client, "/tip")
    response = client.post(
        "/tip",
        data={"category": "drugs", "zone": "on-north", "description": "no token at all here"},
    )
    assert response.status_code == 400
    assert _count(runtime, Tip) == 0


def test_urgent_words_raise_priority_and_are_not_stored(client, runtime) -> None:  # type: ignore[no-untyped-def]
    calm = reference_from(
        submit_tip(
            client, category="property-crime", description="Bikes stolen from the rack again."
        ).get_data(as_text=True)
    )
    urgent = reference_from(
        submit_tip(
            client, category="property-crime", description="He has a gun and will use it tonight."
        ).get_data(as_text=True)
    )
    with runtime.sessions() as session:
        by_ref = {t.reference: t for t in session.scalars(select(Tip))}
    assert by_ref[urgent].urgent_words is True and by_ref[calm].urgent_words is False
    order = ("urgent", "high", "normal", "low")
    assert order.index(by_ref[urgent].priority) < order.index(by_ref[calm].priority)


def test_database_down_is_503_try_again(runtime, recovery_key) -> None:  # type: ignore[no-untyped-def]
    from tipline.app import create_app
    from tipline.runtime import Runtime

    # A database nobody listens on: the tipster gets "try again", never a half-written tip.
    broken = Runtime(
        runtime.settings.with_overrides(database_url="postgresql+psycopg://nobody@127.0.0.1:1/none")
    )
    app = create_app(runtime=broken)
    client = app.test_client()
    response = submit_tip(client)
    assert response.status_code == 503
    assert "try again" in response.get_data(as_text=True)
    assert _count(runtime, Tip) == 0
    broken.close()
