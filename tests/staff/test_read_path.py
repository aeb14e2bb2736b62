from __future__ import annotations

import pytest
from sqlalchemy import select

from tests.support.forms import csrf_token, post_login, reference_from, sign_in, submit_tip
from tipline.crypto import SealError
from tipline.crypto import hierarchy as h
from tipline.keyring import unlock_staff, unlock_units
from tipline.models import AuditEntry, Staff, Tip, TipKeyGrant

pytestmark = pytest.mark.embedded


def _routed_tip(client, drain, **fields) -> str:  # type: ignore[no-untyped-def]
    reference = reference_from(submit_tip(client, **fields).get_data(as_text=True))
    drain()
    return reference


def test_unit_member_reads_the_tip_and_the_read_is_audited(
    app, client, drain, world, runtime
) -> None:  # type: ignore[no-untyped-def]
    text = "Stolen catalytic converters are stored in the barn on 3rd line."
    reference = _routed_tip(
        client, drain, category="property-crime", zone="on-north", description=text
    )
    staff_client = app.test_client()
    sign_in(staff_client, world["north"])
    queue = staff_client.get("/staff/")
    assert reference in queue.get_data(as_text=True)
    page = staff_client.get(f"/staff/tips/{reference}")
    assert page.status_code == 200
    assert text in page.get_data(as_text=True)
    with runtime.sessions() as session:
        actions = [
            (e.actor, e.action, e.subject)
            for e in session.scalars(select(AuditEntry).order_by(AuditEntry.seq))
        ]
    assert (f"staff:{world['north'].id}", "tip.read", reference) in actions


def test_member_of_another_unit_gets_404_and_no_trace_of_the_tip(app, client, drain, world) -> None:  # type: ignore[no-untyped-def]
    reference = _routed_tip(client, drain, category="property-crime", zone="on-north")
    other = app.test_client()
    sign_in(other, world["montreal"])
    assert reference not in other.get("/staff/").get_data(as_text=True)
    response = other.get(f"/staff/tips/{reference}")
    missing = other.get("/staff/tips/ZZZZZZZZZZ")
    assert response.status_code == missing.status_code == 404
    # Same page for "not yours" and "does not exist": nothing tells them apart.
    assert response.get_data(as_text=True).replace(reference, "X") == missing.get_data(
        as_text=True
    ).replace("ZZZZZZZZZZ", "X")


def test_other_units_keys_cannot_open_the_tip_even_with_the_database(
    client, drain, world, runtime
) -> None:  # type: ignore[no-untyped-def]
    """The compartment is cryptographic: with the database and a Montreal investigator's
    password, no key they hold opens any grant of a North tip."""
    reference = _routed_tip(client, drain, category="property-crime", zone="on-north")
    account = world["montreal"]
    with runtime.sessions() as session:
        staff = session.get(Staff, account.id)
        unlocked = unlock_units(session, staff.id, unlock_staff(staff, account.password))
        tip = session.scalars(select(Tip).where(Tip.reference == reference)).one()
        grants = session.scalars(select(TipKeyGrant).where(TipKeyGrant.tip_id == tip.id)).all()
    assert unlocked.unit_keys  # they do hold a unit key: their own
    attempts = 0
    for grant in grants:
        for unit_key in [*unlocked.unit_keys.values(), unlocked.staff_key]:
            attempts += 1
            with pytest.raises(SealError):
                h.open_tip_key(
                    unit_key, grant.sealed_key, reference, grant.holder, grant.holder_version
                )
    assert attempts >= 3


def test_not_signed_in_is_sent_to_login(client, drain) -> None:  # type: ignore[no-untyped-def]
    reference = _routed_tip(client, drain)
    response = client.get(f"/staff/tips/{reference}")
    assert response.status_code == 302 and "/staff/login" in response.headers["Location"]


def test_wrong_password_or_code_is_refused_with_one_message(app, world) -> None:  # type: ignore[no-untyped-def]
    account = world["north"]
    client = app.test_client()
    for password, code in ((account.password + "x", account.code()), (account.password, "000000")):
        response = post_login(client, account, code=code, password=password)
        assert response.status_code == 401
        assert "Email, password or code is not right." in response.get_data(as_text=True)


def test_a_totp_code_cannot_be_replayed(app, world) -> None:  # type: ignore[no-untyped-def]
    account = world["north"]
    code = account.code()
    first, second = app.test_client(), app.test_client()
    assert post_login(first, account, code=code).status_code == 302
    assert post_login(second, account, code=code).status_code == 401


def test_logout_ends_the_session_on_the_server(app, world) -> None:  # type: ignore[no-untyped-def]
    from tipline.staff.sessions import COOKIE

    staff_client = app.test_client()
    sign_in(staff_client, world["north"])
    assert staff_client.get("/staff/").status_code == 200
    old_cookie = staff_client.get_cookie(COOKIE, path="/").value
    token = csrf_token(staff_client, "/staff/")
    staff_client.post("/staff/logout", data={"csrf_token": token})
    # Replaying the cookie the browser held must not bring the session back.
    replay = app.test_client()
    replay.set_cookie(COOKIE, old_cookie, path="/")
    assert replay.get("/staff/").status_code == 302


def test_every_staff_page_but_sign_in_requires_a_session(app) -> None:  # type: ignore[no-untyped-def]
    client = app.test_client()
    checked = 0
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/staff") or rule.endpoint in (
            "staff.login",
            "staff.login_post",
        ):
            continue
        path = rule.rule.replace("<reference>", "ABCDEFGHJK")
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            app.config["WTF_CSRF_ENABLED"] = False  # reach the view, not the CSRF check
            try:
                response = client.open(path, method=method)
            finally:
                app.config["WTF_CSRF_ENABLED"] = True
            if rule.endpoint == "staff.logout":
                assert response.status_code == 302
            else:
                assert (
                    response.status_code == 302 and "/staff/login" in response.headers["Location"]
                ), rule
            checked += 1
    assert checked >= 3


def test_a_deactivated_account_loses_its_open_session(app, world, runtime) -> None:  # type: ignore[no-untyped-def]
    staff_client = app.test_client()
    sign_in(staff_client, world["north"])
    assert staff_client.get("/staff/").status_code == 200
    with runtime.sessions() as session:
        session.execute(
            Staff.__table__.update().where(Staff.id == world["north"].id).values(active=False)
        )
        session.commit()
    try:
        assert staff_client.get("/staff/").status_code == 302
    finally:
        with runtime.sessions() as session:
            session.execute(
                Staff.__table__.update().where(Staff.id == world["north"].id).values(active=True)
            )
            session.commit()


def test_parallel_sign_ins_with_one_code_let_exactly_one_in(app, world) -> None:  # type: ignore[no-untyped-def]
    import threading

    account = world["north"]
    code = account.code()
    clients = [app.test_client() for _ in range(6)]
    tokens = [csrf_token(c, "/staff/login") for c in clients]
    barrier = threading.Barrier(len(clients))
    statuses: list[int] = []

    def attempt(client, token) -> None:  # type: ignore[no-untyped-def]
        barrier.wait()
        response = client.post(
            "/staff/login",
            data={
                "email": account.email,
                "password": account.password,
                "totp": code,
                "csrf_token": token,
            },
        )
        statuses.append(response.status_code)

    threads = [
        threading.Thread(target=attempt, args=pair) for pair in zip(clients, tokens, strict=True)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(statuses) == [302] + [401] * 5


def test_a_tampered_ciphertext_is_404_not_500(app, client, drain, world, runtime) -> None:  # type: ignore[no-untyped-def]
    from tipline.models import SealedItem

    reference = _routed_tip(client, drain, category="property-crime", zone="on-north")
    with runtime.sessions() as session:
        tip = session.scalars(select(Tip).where(Tip.reference == reference)).one()
        item = session.scalars(select(SealedItem).where(SealedItem.tip_id == tip.id)).one()
        damaged = bytearray(item.ciphertext)
        damaged[-1] ^= 1
        item.ciphertext = bytes(damaged)
        session.commit()
    staff_client = app.test_client()
    sign_in(staff_client, world["north"])
    assert staff_client.get(f"/staff/tips/{reference}").status_code == 404


def test_redis_down_on_a_staff_page_is_503(app, world, runtime) -> None:  # type: ignore[no-untyped-def]
    from tipline.runtime import Runtime

    staff_client = app.test_client()
    sign_in(staff_client, world["north"])
    real = runtime.redis
    # The client the service builds, pointed where no Redis listens.
    dead = Runtime(runtime.settings.with_overrides(redis_url="redis://127.0.0.1:1/0")).redis
    runtime.__dict__["redis"] = dead
    try:
        response = staff_client.get("/staff/")
    finally:
        runtime.__dict__["redis"] = real
    assert response.status_code == 503
    assert "try again" in response.get_data(as_text=True)


def test_session_in_redis_opens_nothing_without_the_cookie(app, world, runtime) -> None:  # type: ignore[no-untyped-def]
    import base64

    from tipline.crypto import aead_decrypt
    from tipline.staff.sessions import COOKIE, load_session

    staff_client = app.test_client()
    sign_in(staff_client, world["north"])
    keys = list(runtime.redis.scan_iter(match=f"{runtime.settings.redis_prefix}:staff-session:*"))
    assert len(keys) == 1
    stored = runtime.redis.get(keys[0])
    with runtime.sessions() as session:
        staff = session.get(Staff, world["north"].id)
        staff_key = unlock_staff(staff, world["north"].password)
    assert staff_key.raw not in stored
    cookie = staff_client.get_cookie(COOKIE, path="/").value
    raw = base64.urlsafe_b64decode(cookie + "=" * (-len(cookie) % 4))
    session_id, session_key = raw[:24], raw[24:]
    assert (
        aead_decrypt(session_key, stored, b"staff-session" + session_id)[16:] == staff_key.raw
    )  # the cookie opens it
    with pytest.raises(SealError):
        aead_decrypt(bytes(32), stored, b"staff-session" + session_id)  # nothing else does
    forged = base64.urlsafe_b64encode(session_id + bytes(32)).decode().rstrip("=")
    assert load_session(runtime, forged) is None


def test_a_body_moved_to_another_tip_row_does_not_open(app, client, drain, world, runtime) -> None:  # type: ignore[no-untyped-def]
    """Swap two tips' sealed bodies in the database: neither opens as the other."""
    from tipline.models import SealedItem

    first = _routed_tip(
        client, drain, zone="on-north", description="First tip: the red door on Elm."
    )
    second = _routed_tip(
        client, drain, zone="on-north", description="Second tip: the boat at the marina."
    )
    with runtime.sessions() as session:
        items = {
            ref: session.scalars(
                select(SealedItem)
                .join(Tip, Tip.id == SealedItem.tip_id)
                .where(Tip.reference == ref)
            ).one()
            for ref in (first, second)
        }
        items[first].ciphertext, items[second].ciphertext = (
            items[second].ciphertext,
            items[first].ciphertext,
        )
        session.commit()
    staff_client = app.test_client()
    sign_in(staff_client, world["north"])
    for reference in (first, second):
        response = staff_client.get(f"/staff/tips/{reference}")
        assert response.status_code == 404
        assert "red door" not in response.get_data(as_text=True)
        assert "marina" not in response.get_data(as_text=True)
