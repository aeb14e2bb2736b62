"""Dump everything the service keeps, and look for canaries in every form they could take."""

from __future__ import annotations

import base64
import subprocess
import urllib.parse
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import MetaData, make_url, select


def forms(value: str) -> dict[str, bytes]:
    """``value`` as it could sit in a dump: raw, hex, base64 at every alignment (the inner
    characters, which do not depend on neighbouring bytes), URL-encoded."""
    raw = value.encode()
    found = {"raw": raw, "hex": raw.hex().encode(), "HEX": raw.hex().upper().encode()}
    for shift in range(3):
        start = -(-shift * 8 // 6)  # ceil: the first character made of canary bits only
        end = (shift + len(raw)) * 8 // 6
        for name, encode in (("base64", base64.b64encode), ("base64url", base64.urlsafe_b64encode)):
            found[f"{name}+{shift}"] = encode(b"\0" * shift + raw)[start:end]
    quoted = urllib.parse.quote_plus(value).encode()
    if quoted != raw:
        found["urlencoded"] = quoted
    return found


@dataclass(frozen=True)
class Hit:
    canary: str
    form: str
    place: str

    def __str__(self) -> str:
        return f"{self.canary!r} ({self.form}) in {self.place}"


def scan(places: dict[str, bytes], canaries: list[str]) -> list[Hit]:
    hits = []
    for canary in canaries:
        for form, needle in forms(canary).items():
            for place, blob in places.items():
                if needle in blob:
                    hits.append(Hit(canary, form, place))
    return hits


def database_dump(engine) -> dict[str, bytes]:  # type: ignore[no-untyped-def]
    """PostgreSQL: the real ``pg_dump`` of the database; SQLite: the database files as
    they are on disk. Plus, on both, every row of every table as the application reads it."""
    url = engine.url
    out: dict[str, bytes] = {}
    if url.get_backend_name() == "postgresql":
        dsn = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
        out["pg_dump"] = subprocess.run(
            ["pg_dump", "--no-owner", dsn], check=True, capture_output=True, timeout=120
        ).stdout
    else:
        path = Path(url.database or "")
        for suffix in ("", "-wal", "-journal", "-shm"):
            candidate = path.with_name(path.name + suffix)
            if candidate.exists():
                out[f"sqlite file {candidate.name}"] = candidate.read_bytes()
    metadata = MetaData()
    metadata.reflect(engine)
    with engine.connect() as conn:
        for table in metadata.sorted_tables:
            rows = bytearray()
            for row in conn.execute(select(table)):
                for value in row:
                    rows += value if isinstance(value, bytes) else str(value).encode()
                    rows += b"\n"
            out[f"table {table.name}"] = bytes(rows)
    return out


def redis_dump(r) -> dict[str, bytes]:  # type: ignore[no-untyped-def]
    """Every key of the Redis database and its value, whatever its type."""
    out: dict[str, bytes] = {}
    for key in r.scan_iter(count=1000):
        kind = r.type(key)
        if kind == b"string":
            value = r.get(key) or b""
        elif kind == b"hash":
            value = b"\n".join(k + b"=" + v for k, v in r.hgetall(key).items())
        elif kind == b"list":
            value = b"\n".join(r.lrange(key, 0, -1))
        elif kind in (b"set",):
            value = b"\n".join(r.smembers(key))
        elif kind == b"zset":
            value = b"\n".join(m for m, _ in r.zrange(key, 0, -1, withscores=True))
        elif kind == b"stream":
            value = b"\n".join(repr(e).encode() for e in r.xrange(key))
        else:
            value = r.dump(key) or b""
        out[f"redis key {key.decode(errors='replace')}"] = key + b"\n" + value
    return out


def files(directory: Path, label: str) -> dict[str, bytes]:
    return {
        f"{label} {p.relative_to(directory)}": p.read_bytes()
        for p in sorted(directory.rglob("*"))
        if p.is_file()
    }
