"""No IP address, user agent, cookie or tip text reaches the database, Redis or a log."""

from __future__ import annotations

import base64
import logging
from pathlib import Path

import pytest
from sqlalchemy import MetaData, select

from tests.support.forms import (
    csrf_token,
    followup_sign_in,
    passphrase_from,
    reference_from,
    sign_in,
)

pytestmark = pytest.mark.embedded

CANARY_TEXT = "CANARY-7f3a9e-description"
CANARY_IP = "203.0.113.77"
CANARY_UA = "CanaryBrowser/9.9 (leak-check)"
CANARY_QUESTION = "CANARY-51c0de-question"
CANARY_REPLY = "CANARY-9b2e41-reply"


def _forms(value: str) -> list[bytes]:
    raw = value.encode()
    return [raw, raw.hex().encode(), base64.b64encode(raw), base64.urlsafe_b64encode(raw)]


def _database_dump(runtime) -> bytes:  # type: ignore[no-untyped-def]
    metadata = MetaData()
    metadata.reflect(runtime.engine)
    out = bytearray()
    with runtime.engine.connect() as conn:
        for table in metadata.sorted_tables:
            for row in conn.execute(select(table)):
                for value in row:
                    out += value if isinstance(value, bytes) else str(value).encode()
                    out += b"\n"
    return bytes(out)


def _redis_dump(runtime) -> bytes:  # type: ignore[no-untyped-def]
    out = bytearray()
    r = runtime.redis
    for key in r.scan_iter(count=1000):
        out += key + b"\n"
        kind = r.type(key)
        if kind == b"string":
            out += r.get(key) or b""
        elif kind == b"hash":
            for k, v in r.hgetall(key).items():
                out += k + b"=" + v + b"\n"
        elif kind == b"list":
            out += b"\n".join(r.lrange(key, 0, -1))
        elif kind == b"set":
            out += b"\n".join(r.smembers(key))
        elif kind == b"zset":
            out += b"\n".join(m for m, _ in r.zrange(key, 0, -1, withscores=True))
        out += b"\n"
    return bytes(out)


def _files(directory: Path) -> bytes:
    return b"".join(p.read_bytes() for p in directory.rglob("*") if p.is_file())


def test_canaries_appear_nowhere(app, runtime, drain, world, caplog, tmp_path) -> None:  # type: ignore[no-untyped-def]
    caplog.set_level(logging.DEBUG)
    log_file = tmp_path / "all.log"
    handler = logging.FileHandler(log_file)
    handler.setLevel(logging.DEBUG)
    logging.getLogger().addHandler(handler)
    try:
        client = app.test_client()
        client.environ_base.update(
            {
                "REMOTE_ADDR": CANARY_IP,
                "HTTP_USER_AGENT": CANARY_UA,
                "HTTP_X_FORWARDED_FOR": CANARY_IP,
            }
        )
        token = csrf_token(client, "/tip")
        response = client.post(
            "/tip",
            data={
                "category": "weapons",
                "zone": "on-north",
                "description": f"A gun is hidden. {CANARY_TEXT}",
                "csrf_token": token,
            },
        )
        assert response.status_code == 200
        reference = reference_from(response.get_data(as_text=True))
        drain()
        staff = app.test_client()
        staff.environ_base.update({"REMOTE_ADDR": CANARY_IP, "HTTP_USER_AGENT": CANARY_UA})
        sign_in(staff, world["north"])
        assert CANARY_TEXT in staff.get(f"/staff/tips/{reference}").get_data(as_text=True)
        question = f"Which door? {CANARY_QUESTION}"
        staff.post(
            f"/staff/tips/{reference}/messages",
            data={"message": question, "csrf_token": csrf_token(staff, "/staff/")},
        )
        # The tipster comes back on the same connection: sign-in, read, reply.
        passphrase = passphrase_from(response.get_data(as_text=True))
        assert followup_sign_in(client, reference, passphrase).status_code == 303
        assert CANARY_QUESTION in client.get("/followup").get_data(as_text=True)
        reply = client.post(
            "/followup",
            data={
                "message": f"The red one. {CANARY_REPLY}",
                "csrf_token": csrf_token(client, "/followup"),
            },
        )
        assert reply.status_code == 303
        followup_sign_in(client, reference, "a wrong passphrase for the throttle counter")
    finally:
        logging.getLogger().removeHandler(handler)
        handler.close()

    places = {
        "database": _database_dump(runtime),
        "redis": _redis_dump(runtime),
        "logs": log_file.read_bytes() + "\n".join(r.getMessage() for r in caplog.records).encode(),
        "data dir": _files(runtime.settings.data_dir),
    }
    assert len(places["database"]) > 1000 and b"on-north" in places["database"]  # the dump is real
    assert reference.encode() in places["database"]
    for place, blob in places.items():
        for canary in (
            CANARY_TEXT,
            CANARY_IP,
            CANARY_UA,
            CANARY_QUESTION,
            CANARY_REPLY,
            passphrase,
        ):
            for form in _forms(canary):
                assert form not in blob, f"{canary!r} found in {place}"
