"""`tipline keys rotate`: a new unit key version, every tip re-sealed to it, resumable,
and afterwards the old key opens nothing in the database."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from tests.conftest import settings_env
from tests.support.api import bearer, routed_tip
from tests.test_cli import tipline
from tipline import keyring, rotation
from tipline.crypto import SealError
from tipline.crypto import hierarchy as h
from tipline.crypto import recovery as rk
from tipline.db import transaction
from tipline.models import Membership, Tip, TipKeyGrant
from tipline.models.unit import Unit, UnitKey

pytestmark = pytest.mark.embedded

UNIT = "qc-laval-general"  # a unit no other test relies on for its own tips


@pytest.fixture
def key_file(recovery_key, tmp_path):  # type: ignore[no-untyped-def]
    path = tmp_path / "recovery.txt"
    path.write_text(rk.encode_private(recovery_key))
    return path


@pytest.fixture(autouse=True)
def _fresh_unit_key_cache():  # type: ignore[no-untyped-def]
    # Intake in this process caches unit keys for 30 s; after a rotation it must not seal
    # the next test's tips to a version whose memberships are gone.
    keyring._UNIT_KEY_CACHE.clear()
    yield
    keyring._UNIT_KEY_CACHE.clear()


def _grants(runtime) -> list[tuple[str, int]]:  # type: ignore[no-untyped-def]
    with runtime.sessions() as session:
        return sorted(
            session.execute(
                select(Tip.reference, TipKeyGrant.holder_version)
                .join(Tip, Tip.id == TipKeyGrant.tip_id)
                .where(TipKeyGrant.holder == h.unit_holder(UNIT))
            ).all()
        )


def test_rotation_reseals_every_tip_and_the_old_key_opens_nothing(
    app, client, drain, runtime, world, settings, recovery_key, key_file
) -> None:  # type: ignore[no-untyped-def]
    references = {
        routed_tip(client, drain, zone="qc-laval", category="fraud-scams") for _ in range(5)
    }
    with runtime.sessions() as session:
        unit = session.scalars(select(Unit).where(Unit.slug == UNIT)).one()
        before = unit.key_version
        old_key = h.open_unit_key_with_recovery(
            recovery_key,
            session.scalars(
                select(UnitKey.sealed_for_recovery).where(
                    UnitKey.unit_id == unit.id, UnitKey.version == before
                )
            ).one(),
            UNIT,
            before,
        )
    assert {v for _, v in _grants(runtime)} == {before}

    result = tipline(
        settings_env(settings), "keys", "rotate", "--unit", UNIT,
        "--recovery-key-file", str(key_file), "--settle-seconds", "0", "--batch", "2",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert f"5 tip(s) sealed to key version {before + 1}" in result.stdout
    grants = _grants(runtime)
    assert {r for r, _ in grants} == references and {v for _, v in grants} == {before + 1}
    with runtime.sessions() as session:
        versions = set(
            session.scalars(
                select(Membership.key_version)
                .join(Unit, Unit.id == Membership.unit_id)
                .where(Unit.slug == UNIT)
            )
        )
        assert versions == {before + 1}
        for grant, reference in session.execute(
            select(TipKeyGrant, Tip.reference)
            .join(Tip, Tip.id == TipKeyGrant.tip_id)
            .where(TipKeyGrant.holder == h.unit_holder(UNIT))
        ):
            with pytest.raises(SealError):  # the old key opens none of them
                h.open_tip_key(old_key, grant.sealed_key, reference, grant.holder, before)
    # Members read the tips with the new version, and new tips are sealed to it.
    api = app.test_client()
    headers = bearer(api, world["all"])
    for reference in references:
        assert api.get(f"/api/v1/tips/{reference}", headers=headers).status_code == 200
    keyring._UNIT_KEY_CACHE.clear()  # what the settle time gives web servers
    newer = routed_tip(client, drain, zone="qc-laval", category="fraud-scams")
    assert (newer, before + 1) in _grants(runtime)


def test_an_interrupted_rotation_resumes(
    runtime, client, drain, settings, recovery_key, key_file
) -> None:  # type: ignore[no-untyped-def]
    for _ in range(3):
        routed_tip(client, drain, zone="qc-laval", category="fraud-scams")
    with transaction(runtime.sessions) as session:
        unit = rotation.unit_by_slug(session, UNIT)
        version = rotation.start(session, unit, recovery_key)
    with transaction(runtime.sessions) as session:  # one batch, then "the power goes out"
        unit = rotation.unit_by_slug(session, UNIT)
        assert (
            rotation.reseal_batch(
                session, unit, rotation.old_unit_keys(session, unit, recovery_key), 1
            )
            == 1
        )
    with transaction(runtime.sessions) as session:
        unit = rotation.unit_by_slug(session, UNIT)
        assert rotation.in_progress(session, unit)
        assert rotation.progress(session, unit).done == 1
    result = tipline(
        settings_env(settings), "keys", "rotate", "--unit", UNIT,
        "--recovery-key-file", str(key_file), "--settle-seconds", "0",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert f"resuming the rotation of {UNIT} to key version {version}" in result.stdout
    assert {v for _, v in _grants(runtime)} == {version}


def test_rotation_refuses_a_wrong_recovery_key_and_an_unknown_unit(
    settings, runtime, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    from tipline.crypto import generate_private_key

    wrong = tmp_path / "wrong.txt"
    wrong.write_text(rk.encode_private(generate_private_key()))
    with runtime.sessions() as session:
        before = session.scalars(select(Unit.key_version).where(Unit.slug == UNIT)).one()
    result = tipline(
        settings_env(settings), "keys", "rotate", "--unit", UNIT, "--recovery-key-file", str(wrong)
    )
    assert result.returncode != 0 and "Traceback" not in result.stderr
    assert "not this deployment's recovery key" in result.stderr
    unknown = tipline(
        settings_env(settings),
        "keys",
        "rotate",
        "--unit",
        "nowhere",
        "--recovery-key-file",
        str(wrong),
    )
    assert unknown.returncode != 0 and "unknown unit 'nowhere'" in unknown.stderr
    with runtime.sessions() as session:
        assert session.scalars(select(Unit.key_version).where(Unit.slug == UNIT)).one() == before
