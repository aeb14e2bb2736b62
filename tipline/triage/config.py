"""Zones, categories, units and routing rules: loaded once from config/ and validated.

A wrong entry fails at start with the file and the key that is wrong, never at the first
tip that happens to hit it.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, TypeVar

import yaml
from shapely import STRtree
from shapely.errors import ShapelyError
from shapely.geometry import Point, shape
from shapely.geometry.base import BaseGeometry
from shapely.validation import explain_validity

LANGUAGES = ("en", "fr")
PRIORITIES = ("urgent", "high", "normal", "low")  # most to least urgent
# How a closed tip ended (the workflow's closing choice, and retention's key).
DISPOSITIONS = (
    "unfounded",
    "duplicate",
    "insufficient_information",
    "information_passed",
    "under_investigation",
    "arrest",
    "charges_laid",
    "property_recovered",
    "drugs_seized",
    "no_action",
)
ANY = "*"

# Ids end up in URLs, database rows and key-holder names: keep them plain slugs.
_SLUG = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")
# A Canadian forward sortation area: the first three characters of a postal code.
_FSA = re.compile(r"[A-Z]\d[A-Z]")
# Zones may touch along a border; anything larger than this (in square degrees, about
# 1 m²) is a real overlap that would make point-in-polygon ambiguous.
_OVERLAP_EPSILON = 1e-10

T = TypeVar("T")


class ConfigError(ValueError):
    """The config is wrong; the message names the file and the key or entry."""


@dataclass(frozen=True)
class Province:
    id: str
    names: dict[str, str]


@dataclass(frozen=True)
class Zone:
    id: str
    province: str
    names: dict[str, str]
    postal_prefixes: tuple[str, ...]
    geometry: BaseGeometry = field(compare=False, repr=False)


@dataclass(frozen=True)
class Category:
    id: str
    names: dict[str, str]
    sms_menu: int
    priority: str


@dataclass(frozen=True)
class UnitSpec:
    slug: str
    name: str


@dataclass(frozen=True)
class Rule:
    zones: tuple[str, ...]  # zone ids, province ids or "*"
    categories: tuple[str, ...]  # category ids or "*"
    unit: str | None  # None: the rule only adds info copies, it never picks the primary
    info_units: tuple[str, ...]

    def matches(self, zone: Zone, category: str) -> bool:
        in_place = any(place in (ANY, zone.id, zone.province) for place in self.zones)
        return in_place and (ANY in self.categories or category in self.categories)


@dataclass(frozen=True)
class Policy:
    first_triage_hours: dict[str, int]  # by priority
    retention_days: dict[str, int]  # by disposition


@dataclass(frozen=True)
class TiplineConfig:
    provinces: dict[str, Province]
    zones: dict[str, Zone]
    categories: dict[str, Category]
    units: dict[str, UnitSpec]
    rules: tuple[Rule, ...]
    urgent_words: dict[str, tuple[str, ...]]
    needs_zone_unit: str
    policy: Policy

    @cached_property
    def _zone_list(self) -> tuple[Zone, ...]:
        return tuple(self.zones.values())

    @cached_property
    def _zone_tree(self) -> STRtree:
        # A spatial index: a lookup tests only the few zones whose bounding box holds the point.
        return STRtree([zone.geometry for zone in self._zone_list])

    @cached_property
    def _zone_by_prefix(self) -> dict[str, Zone]:
        return {prefix: zone for zone in self._zone_list for prefix in zone.postal_prefixes}

    def zone_for_point(self, lat: float, lon: float) -> Zone | None:
        """The zone holding the point, or None (outside every zone, or not a real place)."""
        if not (math.isfinite(lat) and math.isfinite(lon)):
            return None
        hits = self._zone_tree.query(Point(lon, lat), predicate="covered_by")
        # On a shared border the point touches two zones; the first one in the file wins.
        return self._zone_list[min(hits)] if len(hits) else None

    def zone_for_postal_code(self, code: str) -> Zone | None:
        """The zone of a postal code ("m5v 2t6", "M5V2T6" or just "M5V"), or None."""
        prefix = re.sub(r"[\s-]", "", code).upper()[:3]
        if not _FSA.fullmatch(prefix):
            return None
        return self._zone_by_prefix.get(prefix)


def load_config(config_dir: Path) -> TiplineConfig:
    """Read and validate the six config files in ``config_dir``."""
    provinces = _load_provinces(_read(config_dir / "provinces.yaml"))
    zones = _load_zones(_read(config_dir / "zones.geojson"), provinces)
    categories = _load_categories(_read(config_dir / "categories.yaml"))
    units = _load_units(_read(config_dir / "units.yaml"))
    routing = _read(config_dir / "routing.yaml")
    where = "routing.yaml"
    _check_keys(routing, {"rules", "urgent_words", "needs_zone_unit"}, where)
    rules = _load_rules(routing, provinces, zones, categories, units)
    needs_zone_unit = _get(routing, "needs_zone_unit", str, where)
    if needs_zone_unit not in units:
        raise ConfigError(f"{where}: needs_zone_unit: unknown unit {needs_zone_unit!r}")
    config = TiplineConfig(
        provinces=provinces,
        zones=zones,
        categories=categories,
        units=units,
        rules=rules,
        urgent_words=_load_urgent_words(routing),
        needs_zone_unit=needs_zone_unit,
        policy=_load_policy(_read(config_dir / "policy.yaml")),
    )
    _check_coverage(config)
    return config


# --- reading files ----------------------------------------------------------------------


def _read(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path.name}: file is missing (looked for {path})") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path.name}: cannot read: {exc}") from None
    try:
        data = json.loads(text) if path.suffix == ".geojson" else yaml.safe_load(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{path.name}: not valid JSON: {exc}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path.name}: not valid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path.name}: expected a mapping at the top level")
    return data


def _at(where: str, key: str) -> str:
    """Where a key is, for messages: "routing.yaml: rules[2].unit"."""
    return f"{where}.{key}" if ":" in where else f"{where}: {key}"


def _wrong(where: str, expected: str, value: object) -> ConfigError:
    hint = ""
    if isinstance(value, bool):
        # The classic YAML trap, and our Ontario id is one: a bare on/off/yes/no is a boolean.
        hint = " (quote it: YAML reads a bare on/off/yes/no as true/false)"
    return ConfigError(f"{where}: expected {expected}, got {value!r}{hint}")


def _get(entry: Mapping[str, Any], key: str, kind: type[T], where: str) -> T:
    value = entry.get(key)
    # bool is an int to Python, but `sms_menu: true` is a mistake, not menu number 1.
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise _wrong(_at(where, key), kind.__name__, value)
    if isinstance(value, str) and not value.strip():
        raise ConfigError(f"{_at(where, key)}: must not be empty")
    return value


def _entries(data: Mapping[str, Any], key: str, where: str) -> list[tuple[str, dict[str, Any]]]:
    """The list under ``key``, each entry paired with its name for error messages."""
    items = _get(data, key, list, where)
    if not items:
        raise ConfigError(f"{_at(where, key)}: must not be empty")
    located = [(_at(where, f"{key}[{i}]"), item) for i, item in enumerate(items)]
    for at, item in located:
        if not isinstance(item, dict):
            raise _wrong(at, "a mapping", item)
    return located


def _check_keys(entry: Mapping[str, Any], allowed: set[str], where: str) -> None:
    # A misspelt key (say `info_unit`) would otherwise be silently ignored.
    unknown = sorted(set(entry) - allowed)
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {', '.join(map(repr, unknown))}")


def _slug(entry: Mapping[str, Any], key: str, where: str, seen: Mapping[str, object]) -> str:
    value = _get(entry, key, str, where)
    if not _SLUG.fullmatch(value):
        raise ConfigError(f"{_at(where, key)}: {value!r} is not a lowercase slug like 'on-north'")
    if value in seen:
        raise ConfigError(f"{_at(where, key)}: duplicate id {value!r}")
    return value


def _names(entry: Mapping[str, Any], where: str) -> dict[str, str]:
    return {lang: _get(entry, f"name_{lang}", str, where) for lang in LANGUAGES}


def _str_list(entry: Mapping[str, Any], key: str, where: str) -> tuple[str, ...]:
    values = _get(entry, key, list, where)
    for value in values:
        if not isinstance(value, str) or not value.strip():
            raise _wrong(_at(where, key), "a list of non-empty strings", value)
    return tuple(values)


# --- one loader per file ----------------------------------------------------------------

_NAME_KEYS = {f"name_{lang}" for lang in LANGUAGES}


def _load_provinces(data: dict[str, Any]) -> dict[str, Province]:
    provinces: dict[str, Province] = {}
    for where, entry in _entries(data, "provinces", "provinces.yaml"):
        _check_keys(entry, {"id"} | _NAME_KEYS, where)
        pid = _slug(entry, "id", where, provinces)
        provinces[pid] = Province(pid, _names(entry, where))
    return provinces


def _load_zones(data: dict[str, Any], provinces: dict[str, Province]) -> dict[str, Zone]:
    if data.get("type") != "FeatureCollection":
        raise ConfigError("zones.geojson: type: expected 'FeatureCollection'")
    zones: dict[str, Zone] = {}
    owner: dict[str, str] = {}  # postal prefix -> zone id
    for where, feature in _entries(data, "features", "zones.geojson"):
        props = _get(feature, "properties", dict, where)
        _check_keys(
            props, {"id", "province", "postal_prefixes"} | _NAME_KEYS, _at(where, "properties")
        )
        zid = _slug(props, "id", _at(where, "properties"), zones)
        if zid in provinces:
            # Rules name zones and provinces in the same list: one id must mean one thing.
            raise ConfigError(f"{where}.properties.id: {zid!r} is already a province id")
        at = f"zones.geojson: zone {zid!r}"  # the id says more than an index from here on
        province = _get(props, "province", str, at)
        if province not in provinces:
            raise ConfigError(f"{at}.province: unknown province {province!r}")
        prefixes = _str_list(props, "postal_prefixes", at)
        for prefix in prefixes:
            if not _FSA.fullmatch(prefix):
                raise ConfigError(
                    f"{at}.postal_prefixes: {prefix!r} is not a postal prefix like 'M5V'"
                )
            if prefix in owner:
                raise ConfigError(
                    f"{at}.postal_prefixes: {prefix!r} is already in zone {owner[prefix]!r}"
                )
            owner[prefix] = zid
        geometry = _polygon(_get(feature, "geometry", dict, at), f"{at}.geometry")
        zones[zid] = Zone(zid, province, _names(props, at), prefixes, geometry)
    _check_overlaps(zones)
    return zones


def _polygon(data: dict[str, Any], where: str) -> BaseGeometry:
    if data.get("type") not in ("Polygon", "MultiPolygon"):
        raise ConfigError(
            f"{where}.type: expected Polygon or MultiPolygon, got {data.get('type')!r}"
        )
    try:
        geometry = shape(data)
    except (ShapelyError, ValueError, TypeError, KeyError, IndexError) as exc:
        raise ConfigError(f"{where}.coordinates: not a polygon: {exc}") from None
    if geometry.is_empty:
        raise ConfigError(f"{where}: polygon is empty")
    # Validity first: a self-intersecting "bowtie" also has zero area, and saying where it
    # crosses itself is the more useful message.
    if not geometry.is_valid:
        raise ConfigError(f"{where}: invalid polygon: {explain_validity(geometry)}")
    if geometry.area == 0:
        raise ConfigError(f"{where}: polygon is empty (it has no area)")
    min_lon, min_lat, max_lon, max_lat = geometry.bounds
    if min_lon < -180 or max_lon > 180 or min_lat < -90 or max_lat > 90:
        raise ConfigError(f"{where}: coordinates must be [longitude, latitude] in degrees")
    return geometry


def _check_overlaps(zones: dict[str, Zone]) -> None:
    # A point inside two zones would route by file order, silently: refuse it instead.
    listed = list(zones.values())
    tree = STRtree([zone.geometry for zone in listed])
    for i, zone in enumerate(listed):
        for j in tree.query(zone.geometry, predicate="intersects"):
            other = listed[j]
            if j > i and zone.geometry.intersection(other.geometry).area > _OVERLAP_EPSILON:
                raise ConfigError(f"zones.geojson: zone {zone.id!r} overlaps zone {other.id!r}")


def _load_categories(data: dict[str, Any]) -> dict[str, Category]:
    categories: dict[str, Category] = {}
    entries = _entries(data, "categories", "categories.yaml")
    menu: dict[int, str] = {}
    for where, entry in entries:
        _check_keys(entry, {"id", "sms_menu", "priority"} | _NAME_KEYS, where)
        cid = _slug(entry, "id", where, categories)
        at = f"categories.yaml: category {cid!r}"
        number = _get(entry, "sms_menu", int, at)
        if not 1 <= number <= len(entries):
            raise ConfigError(f"{at}.sms_menu: {number} is not between 1 and {len(entries)}")
        if number in menu:
            raise ConfigError(f"{at}.sms_menu: {number} is already used by {menu[number]!r}")
        menu[number] = cid
        priority = _get(entry, "priority", str, at)
        if priority not in PRIORITIES:
            raise ConfigError(f"{at}.priority: {priority!r} is not one of {', '.join(PRIORITIES)}")
        categories[cid] = Category(cid, _names(entry, at), number, priority)
    return categories


def _load_policy(data: dict[str, Any]) -> Policy:
    where = "policy.yaml"
    _check_keys(data, {"first_triage_hours", "retention_days"}, where)

    def table(key: str, names: tuple[str, ...], most: int) -> dict[str, int]:
        entry = _get(data, key, dict, where)
        _check_keys(entry, set(names), _at(where, key))
        missing = [name for name in names if name not in entry]
        if missing:
            raise ConfigError(f"{_at(where, key)}: missing {', '.join(missing)}")
        values = {name: _get(entry, name, int, _at(where, key)) for name in names}
        for name, value in values.items():
            if not 1 <= value <= most:
                raise ConfigError(f"{_at(where, key)}.{name}: must be between 1 and {most}")
        return values

    return Policy(
        first_triage_hours=table("first_triage_hours", PRIORITIES, 24 * 365),
        retention_days=table("retention_days", DISPOSITIONS, 100 * 365),
    )


def _load_units(data: dict[str, Any]) -> dict[str, UnitSpec]:
    units: dict[str, UnitSpec] = {}
    for where, entry in _entries(data, "units", "units.yaml"):
        _check_keys(entry, {"slug", "name"}, where)
        slug = _slug(entry, "slug", where, units)
        units[slug] = UnitSpec(slug, _get(entry, "name", str, where))
    return units


def _load_rules(
    data: dict[str, Any],
    provinces: dict[str, Province],
    zones: dict[str, Zone],
    categories: dict[str, Category],
    units: dict[str, UnitSpec],
) -> tuple[Rule, ...]:
    rules = []
    for where, entry in _entries(data, "rules", "routing.yaml"):
        _check_keys(entry, {"zones", "categories", "unit", "info_units"}, where)
        places = _str_list(entry, "zones", where)
        kinds = _str_list(entry, "categories", where)
        for key, values, known in (
            ("zones", places, {ANY, *zones, *provinces}),
            ("categories", kinds, {ANY, *categories}),
        ):
            if not values:
                raise ConfigError(f'{where}.{key}: must not be empty (use "*" for all)')
            unknown = [value for value in values if value not in known]
            if unknown:
                raise ConfigError(f"{where}.{key}: unknown {', '.join(map(repr, unknown))}")
        unit = _get(entry, "unit", str, where) if "unit" in entry else None
        info_units = _str_list(entry, "info_units", where) if "info_units" in entry else ()
        if unit is None and not info_units:
            raise ConfigError(f"{where}: a rule needs a unit, info_units or both")
        for key, slugs in (("unit", (unit,) if unit else ()), ("info_units", info_units)):
            unknown = [slug for slug in slugs if slug not in units]
            if unknown:
                raise ConfigError(f"{where}.{key}: unknown unit {', '.join(map(repr, unknown))}")
        rules.append(Rule(places, kinds, unit, info_units))
    return tuple(rules)


def _load_urgent_words(data: dict[str, Any]) -> dict[str, tuple[str, ...]]:
    words = _get(data, "urgent_words", dict, "routing.yaml")
    where = "routing.yaml: urgent_words"
    _check_keys(words, set(LANGUAGES), where)
    return {lang: _str_list(words, lang, where) for lang in words}


def _check_coverage(config: TiplineConfig) -> None:
    # Every tip with a known zone must reach a unit: an uncovered pair is a config error,
    # not a tip that waits in no queue.
    missing = [
        f"{zone.id} × {category}"
        for zone in config.zones.values()
        for category in config.categories
        if not any(rule.unit and rule.matches(zone, category) for rule in config.rules)
    ]
    if missing:
        shown = ", ".join(missing[:5]) + (
            f" and {len(missing) - 5} more" if len(missing) > 5 else ""
        )
        raise ConfigError(
            f"routing.yaml: rules: no rule gives a unit for {shown} "
            '(add a rule for them, or a catch-all with zones: ["*"])'
        )
