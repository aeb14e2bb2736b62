"""From a request to a published table, and the table as CSV, JSON or GeoJSON.

Every export states its method and parameters; every export is audited by the caller.
"""

from __future__ import annotations

import csv
import io
import json
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from tipline import audit
from tipline.errors import Forbidden
from tipline.models import Membership
from tipline.settings import Settings
from tipline.stats import aggregate
from tipline.stats.request import StatsRequest
from tipline.stats.suppress import ALL, Table, publish
from tipline.triage.config import TiplineConfig
from tipline.triage.workflow import Actor


def scope_of(session: Session, actor: Actor) -> set[int] | None:
    """Which units' tips an actor's statistics count: all for an admin, their units for a
    supervisor; investigators do not export (Forbidden)."""
    if actor.role == "admin":
        return None
    if actor.role != "supervisor":
        raise Forbidden("Only supervisors and administrators export statistics.")
    return set(
        session.scalars(select(Membership.unit_id).where(Membership.staff_id == actor.staff_id))
    )


def export(
    session: Session,
    config: TiplineConfig,
    settings: Settings,
    request: StatsRequest,
    *,
    actor: str,
    unit_ids: set[int] | None,
) -> tuple[str, str]:
    """The rendered export (text, media type), audited in the caller's transaction."""
    table = build(
        session,
        config,
        request,
        tz=ZoneInfo(settings.timezone),
        unit_ids=unit_ids,
        secret=settings.secret_key,
    )
    audit.record(
        session,
        actor,
        "stats.export",
        f"{','.join(request.by)} {request.period} {request.start}..{request.end} {request.format}",
    )
    return render(table, request.format, config)


def build(
    session: Session,
    config: TiplineConfig,
    request: StatsRequest,
    *,
    tz: ZoneInfo,
    unit_ids: set[int] | None,
    secret: bytes,
) -> Table:
    cells = aggregate.count(session, config, request, tz, unit_ids)
    table = publish(cells, request.by, request.k, rounding=request.rounding, secret=secret)
    table.method.update(
        {
            "grouping": list(request.by),
            "period": request.period,
            "from": request.start.isoformat(),
            "to": request.end.isoformat(),
            "to_is": "exclusive",
            "time_zone": tz.key,
            "scope": "all units" if unit_ids is None else f"{len(unit_ids)} unit(s)",
            "counted": "tips in a queue (received and routed), by the day they were received",
            "times": "hours from receipt to first triage and to closing (median, 90th percentile)",
        }
    )
    return table


def _row(keys: tuple[str, ...], published: Any) -> dict[str, Any]:
    row: dict[str, Any] = dict(zip(keys, published.key, strict=True))
    row["count"] = published.count
    row["withheld"] = published.withheld
    row["sla_breaches"] = published.sla_breaches
    row["rewards_decided"] = published.rewards
    row.update(published.times)
    return row


def to_json(table: Table) -> str:
    return json.dumps(
        {
            "method": table.method,
            "cells": [_row(table.keys, c) for c in table.cells],
            "totals": [
                {
                    **dict(zip(table.keys, t.key, strict=True)),
                    "count": t.count,
                    "withheld": t.withheld,
                }
                for t in table.totals
            ],
        },
        indent=2,
        ensure_ascii=False,
    )


def to_csv(table: Table) -> str:
    """A header row, one row per cell, then the totals ("*" where a key is summed over),
    then the method as commented lines. UTF-8 with a byte-order mark, so spreadsheets
    read accents right."""
    out = io.StringIO()
    out.write("\ufeff")
    columns = [
        *table.keys,
        "count",
        "withheld",
        "sla_breaches",
        "rewards_decided",
        *aggregate.TIME_STATS,
    ]
    writer = csv.DictWriter(out, fieldnames=columns, lineterminator="\r\n")
    writer.writeheader()
    for cell in table.cells:
        writer.writerow({k: ("" if v is None else v) for k, v in _row(table.keys, cell).items()})
    for total in table.totals:
        row = dict(zip(table.keys, total.key, strict=True))
        row.update(count="" if total.count is None else total.count, withheld=total.withheld)
        writer.writerow(row)
    for name, value in table.method.items():
        out.write(f"# {name}: {value}\r\n")
    return out.getvalue()


def to_geojson(table: Table, config: TiplineConfig) -> str:
    """One feature per zone (or province: the union of its zones) with its published
    totals over everything else in the grouping, for a choropleth in any GIS tool."""
    from shapely.geometry import mapping
    from shapely.ops import unary_union

    place = "zone" if "zone" in table.keys else "province"
    position = table.keys.index(place)
    wanted = tuple(ALL if i != position else None for i in range(len(table.keys)))
    by_place: dict[str, Any] = {}
    source = table.cells if len(table.keys) == 1 else table.totals
    for entry in source:
        if all(w is None or part == w for w, part in zip(wanted, entry.key, strict=True)):
            by_place[entry.key[position]] = entry
    features = []
    if place == "zone":
        shapes = {zone.id: zone.geometry for zone in config.zones.values()}
        names = {zone.id: zone.names for zone in config.zones.values()}
    else:
        shapes = {
            pid: unary_union([z.geometry for z in config.zones.values() if z.province == pid])
            for pid in config.provinces
        }
        names = {pid: p.names for pid, p in config.provinces.items()}
    for pid, shape in sorted(shapes.items()):
        entry = by_place.get(pid)
        features.append(
            {
                "type": "Feature",
                "geometry": mapping(shape),
                "properties": {
                    "id": pid,
                    "name_en": names[pid].get("en"),
                    "name_fr": names[pid].get("fr"),
                    "count": 0 if entry is None else entry.count,
                    "withheld": False if entry is None else entry.withheld,
                },
            }
        )
    return json.dumps(
        {"type": "FeatureCollection", "features": features, "properties": table.method},
        ensure_ascii=False,
    )


def render(table: Table, fmt: str, config: TiplineConfig) -> tuple[str, str]:
    """(text, media type) of the table in ``fmt``."""
    if fmt == "csv":
        return to_csv(table), "text/csv; charset=utf-8"
    if fmt == "geojson":
        return to_geojson(table, config), "application/geo+json"
    return to_json(table), "application/json"
