"""Where it happened: a picked zone, a postal code or a point, resolved to one zone."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from tests.support.forms import reference_from, sign_in, submit_tip
from tipline.models import SealedItem, Tip, TipUnit, Unit

pytestmark = pytest.mark.embedded


def _tip(runtime, reference):  # type: ignore[no-untyped-def]
    with runtime.sessions() as session:
        tip = session.scalars(select(Tip).where(Tip.reference == reference)).one()
        units = session.scalars(
            select(Unit.slug)
            .join(TipUnit, TipUnit.unit_id == Unit.id)
            .where(TipUnit.tip_id == tip.id)
        ).all()
        return tip, units


@pytest.mark.parametrize(
    ("fields", "zone"),
    [
        ({"zone": "", "postal_code": "m5v 2t6"}, "on-central"),
        ({"zone": "", "postal_code": "H3B"}, "qc-montreal"),
        ({"zone": "", "lat": "46.49", "lon": "-80.99"}, "on-north"),  # Sudbury
        ({"zone": "", "lat": "45.50", "lon": "-73.57"}, "qc-montreal"),
        # A picked zone wins over the other ways.
        (
            {"zone": "qc-laval", "postal_code": "M5V 2T6", "lat": "46.49", "lon": "-80.99"},
            "qc-laval",
        ),
    ],
)
def test_place_resolves_to_one_zone(client, runtime, fields, zone) -> None:  # type: ignore[no-untyped-def]
    response = submit_tip(client, category="fraud-scams", **fields)
    assert response.status_code == 200
    tip, _ = _tip(runtime, reference_from(response.get_data(as_text=True)))
    assert tip.zone == zone


@pytest.mark.parametrize(
    "fields",
    [
        {"zone": "", "postal_code": "K7L 3N6"},  # Kingston: in no configured zone
        {"zone": "", "lat": "0", "lon": "0"},  # a real point, far from every zone
        {"zone": "unknown"},
    ],
)
def test_a_place_in_no_zone_goes_to_the_needs_zone_desk(client, runtime, fields) -> None:  # type: ignore[no-untyped-def]
    response = submit_tip(client, category="fraud-scams", **fields)
    assert response.status_code == 200
    tip, units = _tip(runtime, reference_from(response.get_data(as_text=True)))
    assert tip.zone is None and units == ["needs-zone"]


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"zone": "", "postal_code": "12345"}, "postal code does not look right"),
        ({"zone": "", "lat": "north", "lon": "-80"}, "give both latitude and longitude"),
        ({"zone": "", "lat": "46.5", "lon": ""}, "give both latitude and longitude"),
        ({"zone": "", "lat": "95", "lon": "-80"}, "outside the world"),
        ({"zone": "", "lat": "nan", "lon": "-80"}, "outside the world"),
        ({"zone": ""}, "choose where it happened"),
    ],
)
def test_a_place_that_is_not_one_is_a_plain_400_and_nothing_is_stored(
    client, runtime, fields, message
) -> None:  # type: ignore[no-untyped-def]
    response = submit_tip(client, **fields)
    assert response.status_code == 400
    assert message in response.get_data(as_text=True)
    with runtime.sessions() as session:
        assert session.scalar(select(func.count()).select_from(Tip)) == 0


def test_postal_code_and_point_are_sealed_and_shown_to_the_unit(
    app, client, runtime, drain, world
) -> None:  # type: ignore[no-untyped-def]
    by_code = reference_from(
        submit_tip(client, category="weapons", zone="", postal_code="P3E 2C6").get_data(
            as_text=True
        )
    )
    by_point = reference_from(
        submit_tip(client, category="weapons", zone="", lat="46.4917", lon="-80.9930").get_data(
            as_text=True
        )
    )
    drain()
    with runtime.sessions() as session:
        blobs = b"".join(session.scalars(select(SealedItem.ciphertext)).all())
        clear = " ".join(
            str(v) for row in session.execute(select(Tip.__table__)).all() for v in row
        )
    for secret in ("P3E2C6", "P3E 2C6", "46.4917", "-80.993"):
        assert secret.encode() not in blobs and secret not in clear
    staff = app.test_client()
    sign_in(staff, world["north"])
    assert "P3E2C6" in staff.get(f"/staff/tips/{by_code}").get_data(as_text=True)
    assert "46.4917, -80.993" in staff.get(f"/staff/tips/{by_point}").get_data(as_text=True)
