"""An answer as CSV, JSON or GeoJSON, with its method; who may export, and the audit.

Every export states its method and parameters, and is recorded in the audit log with
the months it was cut from (their numbers are already in the release ledger).
"""

from __future__ import annotations

import csv
import io
import json
from typing import Any

from sqlalchemy.orm import Session

from tipline import audit
from tipline.errors import Forbidden
from tipline.settings import Settings
from tipline.stats import tables
from tipline.stats.catalogue import ALL
from tipline.stats.ledger import TIME_STATS
from tipline.stats.request import StatsRequest
from tipline.triage.config import TiplineConfig
from tipline.triage.workflow import Actor


def check_may_export(actor: Actor) -> None:
    """Supervisors and administrators export statistics; investigators do not."""
    if actor.role not in ("supervisor", "admin"):
        raise Forbidden("Only supervisors and administrators export statistics.")


def export(
    session: Session,
    config: TiplineConfig,
    settings: Settings,
    request: StatsRequest,
    *,
    actor: str,
) -> tuple[str, str]:
    """The rendered export (text, media type), audited in the caller's transaction."""
    answer = tables.answer(session, config, settings, request)
    audit.record(
        session,
        actor,
        "stats.export",
        f"{','.join(request.by)} {request.period} {request.start}..{request.end} {request.format}",
    )
    return render(answer, request.format, config)


def _row(answer: tables.Answer, entry: tables.Entry) -> dict[str, Any]:
    row: dict[str, Any] = dict(zip(answer.by, entry.key, strict=True))
    row["count"] = entry.count
    row["withheld"] = entry.withheld
    for name in TIME_STATS:
        row[name] = entry.times.get(name)
    return row


def to_json(answer: tables.Answer) -> str:
    return json.dumps(
        {
            "method": answer.method,
            "cells": [_row(answer, c) for c in answer.cells],
            "totals": [
                {
                    **dict(zip(answer.by, t.key, strict=True)),
                    "count": t.count,
                    "withheld": t.withheld,
                }
                for t in answer.totals
            ],
        },
        indent=2,
        ensure_ascii=False,
    )


def to_csv(answer: tables.Answer) -> str:
    """A header row, one row per cell, then the totals ("*" where a key is summed over),
    then the method as commented lines. UTF-8 with a byte-order mark, so spreadsheets
    read accents right."""
    out = io.StringIO()
    out.write("\ufeff")
    columns = [*answer.by, "count", "withheld", *TIME_STATS]
    writer = csv.DictWriter(out, fieldnames=columns, lineterminator="\r\n")
    writer.writeheader()
    for cell in answer.cells:
        writer.writerow({k: ("" if v is None else v) for k, v in _row(answer, cell).items()})
    for total in answer.totals:
        row: dict[str, object] = dict(zip(answer.by, total.key, strict=True))
        row.update(count="" if total.count is None else total.count, withheld=total.withheld)
        writer.writerow(row)
    for name, value in answer.method.items():
        out.write(f"# {name}: {value}\r\n")
    return out.getvalue()


def to_geojson(answer: tables.Answer, config: TiplineConfig) -> str:
    """One feature per zone (or province: the union of its zones) with its published
    total over the window and everything else in the grouping, for a choropleth."""
    from shapely.geometry import mapping
    from shapely.ops import unary_union

    place = "zone" if "zone" in answer.by else "province"
    position = answer.by.index(place)
    source = answer.cells if len(answer.by) == 1 else answer.totals
    by_place = {
        entry.key[position]: entry
        for entry in source
        if all(part == ALL for i, part in enumerate(entry.key) if i != position)
        and entry.key[position] != ALL
    }
    if place == "zone":
        shapes = {zone.id: zone.geometry for zone in config.zones.values()}
        names = {zone.id: zone.names for zone in config.zones.values()}
    else:
        shapes = {
            pid: unary_union([z.geometry for z in config.zones.values() if z.province == pid])
            for pid in config.provinces
        }
        names = {pid: p.names for pid, p in config.provinces.items()}
    features = []
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
        {"type": "FeatureCollection", "features": features, "properties": answer.method},
        ensure_ascii=False,
    )


def render(answer: tables.Answer, fmt: str, config: TiplineConfig) -> tuple[str, str]:
    """(text, media type) of the answer in ``fmt``."""
    if fmt == "csv":
        return to_csv(answer), "text/csv; charset=utf-8"
    if fmt == "geojson":
        return to_geojson(answer, config), "application/geo+json"
    return to_json(answer), "application/json"
