"""The shipped config loads, finds places, and every kind of mistake fails with its key."""

from __future__ import annotations

import copy
import json
import math
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from tipline.triage.config import PRIORITIES, ConfigError, TiplineConfig, load_config

CONFIG_DIR = Path(__file__).parents[2] / "config"


@pytest.fixture(scope="module")
def config() -> TiplineConfig:
    return load_config(CONFIG_DIR)


# --- the shipped config -----------------------------------------------------------------


def test_shipped_config_has_two_provinces_with_bilingual_names(config: TiplineConfig) -> None:
    assert set(config.provinces) == {"on", "qc"}
    assert config.provinces["qc"].names == {"en": "Quebec", "fr": "Québec"}
    by_province = {
        p: {z.id for z in config.zones.values() if z.province == p} for p in ("on", "qc")
    }
    assert {"on-north", "on-central", "on-east"} <= by_province["on"]
    assert {"qc-montreal", "qc-laval", "qc-quebec-city"} <= by_province["qc"]
    assert all(3 <= len(zones) <= 4 for zones in by_province.values())


def test_shipped_categories_have_a_complete_sms_menu_and_known_priorities(
    config: TiplineConfig,
) -> None:
    assert list(config.categories) == [
        "organized-crime", "drugs", "weapons", "human-trafficking", "fraud-scams", "cybercrime",
        "property-crime", "violent-crime", "suspicious-activity", "missing-person",
        "wanted-person", "other",
    ]  # fmt: skip
    assert sorted(c.sms_menu for c in config.categories.values()) == list(range(1, 13))
    assert {c.priority for c in config.categories.values()} <= set(PRIORITIES)
    assert config.categories["drugs"].names == {"en": "Drugs", "fr": "Drogues"}


def test_shipped_units_include_the_desk_and_a_provincial_unit_per_province(
    config: TiplineConfig,
) -> None:
    assert config.needs_zone_unit == "needs-zone"
    assert config.units["needs-zone"].name == "Needs zone — triage desk"
    assert config.units["on-organized-crime"].name == "Provincial Organized Crime (Ontario)"
    assert "qc-organized-crime" in config.units
    assert "on-north-general" in config.units and "qc-montreal-general" in config.units


@pytest.mark.parametrize(
    ("place", "lat", "lon", "zone"),
    [
        ("Toronto city hall", 43.6534, -79.3839, "on-central"),
        ("Ottawa, Parliament Hill", 45.4236, -75.7009, "on-east"),
        ("Sudbury", 46.49, -80.99, "on-north"),
        ("Thunder Bay", 48.38, -89.25, "on-north"),
        ("Montréal, Place Ville Marie", 45.5017, -73.5673, "qc-montreal"),
        ("Laval, Chomedey", 45.60, -73.72, "qc-laval"),
        ("Québec City, Château Frontenac", 46.8119, -71.2053, "qc-quebec-city"),
    ],
)
def test_a_point_maps_to_its_zone(
    config: TiplineConfig, place: str, lat: float, lon: float, zone: str
) -> None:
    found = config.zone_for_point(lat, lon)
    assert found is not None, place
    assert found.id == zone


@pytest.mark.parametrize(
    ("lat", "lon"),
    [
        (44.23, -76.48),  # Kingston: in Ontario, but in no zone yet
        (45.0, -40.0),  # the Atlantic
        (-79.38, 43.65),  # Toronto with lat and lon swapped
        (math.nan, -79.38),
    ],
)
def test_a_point_outside_every_zone_has_no_zone(
    config: TiplineConfig, lat: float, lon: float
) -> None:
    assert config.zone_for_point(lat, lon) is None


def test_point_lookup_is_fast(config: TiplineConfig) -> None:
    start = time.perf_counter()
    for i in range(5000):
        config.zone_for_point(45.0 + i / 10000, -75.0)
    # About 10 µs each with the spatial index; a generous bound that still catches a
    # lookup that tests every polygon point by point.
    assert time.perf_counter() - start < 2.0


@pytest.mark.parametrize(
    ("code", "zone"),
    [
        ("M5V 2T6", "on-central"),
        ("m5v 2t6", "on-central"),
        ("  k1a0a9 ", "on-east"),
        ("H7N-1A1", "qc-laval"),
        ("h3b", "qc-montreal"),
        ("G1R 4P5", "qc-quebec-city"),
        ("P3E 2C6", "on-north"),
    ],
)
def test_a_postal_code_maps_to_the_zone_of_its_prefix(
    config: TiplineConfig, code: str, zone: str
) -> None:
    found = config.zone_for_postal_code(code)
    assert found is not None and found.id == zone


@pytest.mark.parametrize("code", ["X0A 0H0", "90210", "", "M5", "5MV 2T6"])
def test_an_unknown_or_malformed_postal_code_has_no_zone(config: TiplineConfig, code: str) -> None:
    assert config.zone_for_postal_code(code) is None


# --- broken copies of the config ----------------------------------------------------------

Edit = Callable[[Any], None]


def _broken(tmp_path: Path, file: str, edit: Edit) -> Path:
    """A copy of the shipped config with ``edit`` applied to the parsed ``file``."""
    broken = tmp_path / "config"
    shutil.copytree(CONFIG_DIR, broken)
    path = broken / file
    if file.endswith(".geojson"):
        data = json.loads(path.read_text(encoding="utf-8"))
        edit(data)
        path.write_text(json.dumps(data), encoding="utf-8")
    else:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        edit(data)
        path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return broken


def _zone(data: dict[str, Any], zone_id: str) -> dict[str, Any]:
    return next(f for f in data["features"] if f["properties"]["id"] == zone_id)


def _square(lon: float, lat: float, size: float) -> dict[str, Any]:
    ring = [[lon, lat], [lon + size, lat], [lon + size, lat + size], [lon, lat + size], [lon, lat]]
    return {"type": "Polygon", "coordinates": [ring]}


def test_the_shipped_config_is_the_baseline_for_the_broken_copies(tmp_path: Path) -> None:
    # The round trip through yaml.safe_dump must not itself break anything.
    config = load_config(_broken(tmp_path, "routing.yaml", lambda data: None))
    assert len(config.rules) == len(load_config(CONFIG_DIR).rules)


def _edit_rule(index: int, **changes: object) -> Edit:
    return lambda data: data["rules"][index].update(changes)


def _duplicate_zone(data: dict[str, Any]) -> None:
    data["features"].append(copy.deepcopy(_zone(data, "on-north")))


def _move_prefix(data: dict[str, Any]) -> None:
    _zone(data, "on-east")["properties"]["postal_prefixes"].append("M5V")


def _overlap(data: dict[str, Any]) -> None:
    # Laval reaching deep into Montréal.
    _zone(data, "qc-laval")["geometry"] = _square(-73.8, 45.45, 0.2)


def _bowtie(data: dict[str, Any]) -> None:
    ring = [[-80.0, 43.4], [-78.8, 44.2], [-78.8, 43.4], [-80.0, 44.2], [-80.0, 43.4]]
    _zone(data, "on-central")["geometry"] = {"type": "Polygon", "coordinates": [ring]}


def _uncover(data: dict[str, Any]) -> None:
    # Drop the catch-all and Laval's district rule: nothing gives Laval tips a unit.
    data["rules"] = [r for r in data["rules"] if r["zones"] not in (["*"], ["qc-laval"])]


BROKEN = [
    pytest.param(
        "zones.geojson",
        _duplicate_zone,
        ["zones.geojson", "features[6].properties.id", "duplicate id 'on-north'"],
        id="duplicate-zone-id",
    ),
    pytest.param(
        "provinces.yaml",
        lambda data: data["provinces"].append(dict(data["provinces"][0])),
        ["provinces.yaml", "provinces[2].id", "duplicate id 'on'"],
        id="duplicate-province-id",
    ),
    pytest.param(
        "categories.yaml",
        lambda data: data["categories"].append(dict(data["categories"][1], sms_menu=13)),
        ["categories.yaml", "categories[12].id", "duplicate id 'drugs'"],
        id="duplicate-category-id",
    ),
    pytest.param(
        "units.yaml",
        lambda data: data["units"].append({"slug": "needs-zone", "name": "Again"}),
        ["units.yaml", "slug", "duplicate id 'needs-zone'"],
        id="duplicate-unit-slug",
    ),
    pytest.param(
        "zones.geojson",
        lambda data: _zone(data, "on-east")["properties"].update(province="nb"),
        ["zones.geojson", "'on-east'", "province", "unknown province 'nb'"],
        id="unknown-province",
    ),
    pytest.param(
        "zones.geojson",
        _bowtie,
        ["zones.geojson", "'on-central'", "geometry", "invalid polygon", "Self-intersection"],
        id="self-intersecting-polygon",
    ),
    pytest.param(
        "zones.geojson",
        lambda data: _zone(data, "on-east").update(geometry={"type": "Polygon", "coordinates": []}),
        ["zones.geojson", "'on-east'", "geometry", "empty"],
        id="empty-polygon",
    ),
    pytest.param(
        "zones.geojson",
        lambda data: _zone(data, "on-east").update(
            geometry={"type": "Point", "coordinates": [-75.7, 45.4]}
        ),
        ["zones.geojson", "'on-east'", "geometry.type", "Point"],
        id="not-a-polygon",
    ),
    pytest.param(
        "zones.geojson",
        _overlap,
        ["zones.geojson", "'qc-montreal'", "overlaps", "'qc-laval'"],
        id="overlapping-zones",
    ),
    pytest.param(
        "zones.geojson",
        _move_prefix,
        ["zones.geojson", "'on-east'", "postal_prefixes", "'M5V'", "'on-central'"],
        id="prefix-in-two-zones",
    ),
    pytest.param(
        "zones.geojson",
        lambda data: _zone(data, "on-east")["properties"]["postal_prefixes"].append("k1"),
        ["zones.geojson", "'on-east'", "postal_prefixes", "'k1'"],
        id="malformed-prefix",
    ),
    pytest.param(
        "categories.yaml",
        lambda data: data["categories"][3].update(sms_menu=2),
        ["categories.yaml", "'human-trafficking'", "sms_menu", "already used by 'drugs'"],
        id="duplicate-sms-menu",
    ),
    pytest.param(
        "categories.yaml",
        lambda data: data["categories"][0].update(sms_menu=40),
        ["categories.yaml", "'organized-crime'", "sms_menu", "between 1 and 12"],
        id="sms-menu-out-of-range",
    ),
    pytest.param(
        "categories.yaml",
        lambda data: data["categories"][2].update(priority="critical"),
        ["categories.yaml", "'weapons'", "priority", "'critical'"],
        id="unknown-priority",
    ),
    pytest.param(
        "routing.yaml",
        _edit_rule(4, zones=["on-west"]),
        ["routing.yaml", "rules[4].zones", "'on-west'"],
        id="rule-unknown-zone",
    ),
    pytest.param(
        "routing.yaml",
        _edit_rule(0, zones=["bc"]),
        ["routing.yaml", "rules[0].zones", "'bc'"],
        id="rule-unknown-province",
    ),
    pytest.param(
        "routing.yaml",
        _edit_rule(0, categories=["arson"]),
        ["routing.yaml", "rules[0].categories", "'arson'"],
        id="rule-unknown-category",
    ),
    pytest.param(
        "routing.yaml",
        _edit_rule(4, unit="on-north-genral"),
        ["routing.yaml", "rules[4].unit", "'on-north-genral'"],
        id="rule-unknown-unit",
    ),
    pytest.param(
        "routing.yaml",
        _edit_rule(2, info_units=["on-organised-crime"]),
        ["routing.yaml", "rules[2].info_units", "'on-organised-crime'"],
        id="rule-unknown-info-unit",
    ),
    pytest.param(
        "routing.yaml",
        _edit_rule(2, info_unit=["on-organized-crime"]),
        ["routing.yaml", "rules[2]", "unknown key", "'info_unit'"],
        id="rule-misspelt-key",
    ),
    pytest.param(
        "routing.yaml",
        _edit_rule(0, zones=[True]),  # what a bare `zones: [on]` becomes
        ["routing.yaml", "rules[0].zones", "quote it"],
        id="bare-on-read-as-boolean",
    ),
    pytest.param(
        "routing.yaml",
        lambda data: data.update(needs_zone_unit="triage"),
        ["routing.yaml", "needs_zone_unit", "'triage'"],
        id="needs-zone-unit-unknown",
    ),
    pytest.param(
        "routing.yaml",
        _uncover,
        ["routing.yaml", "rules", "no rule gives a unit for qc-laval × drugs"],
        id="uncovered-zone-category-pair",
    ),
]


@pytest.mark.parametrize(("file", "edit", "expected"), BROKEN)
def test_a_broken_config_is_rejected_naming_file_and_key(
    tmp_path: Path, file: str, edit: Edit, expected: list[str]
) -> None:
    with pytest.raises(ConfigError) as error:
        load_config(_broken(tmp_path, file, edit))
    for part in expected:
        assert part in str(error.value)


@pytest.mark.parametrize(
    "file", ["provinces.yaml", "zones.geojson", "categories.yaml", "units.yaml", "routing.yaml"]
)
def test_a_missing_file_is_named(tmp_path: Path, file: str) -> None:
    broken = tmp_path / "config"
    shutil.copytree(CONFIG_DIR, broken)
    (broken / file).unlink()
    with pytest.raises(ConfigError, match=rf"^{file}: file is missing"):
        load_config(broken)


@pytest.mark.parametrize(
    ("file", "text", "kind"),
    [
        ("categories.yaml", "categories: [:::", "not valid YAML"),
        ("routing.yaml", "rules:\n  - zones: [on\n", "not valid YAML"),
        ("zones.geojson", '{"type": "FeatureCollection", "features": [', "not valid JSON"),
        ("units.yaml", "", "expected a mapping"),
    ],
)
def test_a_syntax_error_names_the_file(tmp_path: Path, file: str, text: str, kind: str) -> None:
    broken = tmp_path / "config"
    shutil.copytree(CONFIG_DIR, broken)
    (broken / file).write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError, match=rf"^{file}: {kind}"):
        load_config(broken)


# --- policy.yaml: SLA deadlines and retention --------------------------------------------


def test_shipped_policy_covers_every_priority_and_disposition(config: TiplineConfig) -> None:
    from tipline.triage.config import DISPOSITIONS

    assert set(config.policy.first_triage_hours) == set(PRIORITIES)
    assert config.policy.first_triage_hours["urgent"] < config.policy.first_triage_hours["low"]
    assert set(config.policy.retention_days) == set(DISPOSITIONS)


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda d: d["first_triage_hours"].pop("urgent"), "first_triage_hours: missing urgent"),
        (lambda d: d["first_triage_hours"].update(soon=3), "unknown key(s) 'soon'"),
        (lambda d: d["first_triage_hours"].update(high="4h"), "first_triage_hours.high"),
        (lambda d: d["retention_days"].update(arrest=0), "retention_days.arrest: must be between"),
        (lambda d: d["retention_days"].pop("duplicate"), "retention_days: missing duplicate"),
        (lambda d: d.update(retention="forever"), "unknown key(s) 'retention'"),
    ],
)
def test_a_wrong_policy_fails_with_its_key(tmp_path: Path, edit: Edit, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(_broken(tmp_path, "policy.yaml", edit))
    assert str(caught.value).startswith("policy.yaml") and message in str(caught.value)


def test_a_missing_policy_file_is_named(tmp_path: Path) -> None:
    broken = tmp_path / "config"
    shutil.copytree(CONFIG_DIR, broken)
    (broken / "policy.yaml").unlink()
    with pytest.raises(ConfigError, match="policy.yaml: file is missing"):
        load_config(broken)
