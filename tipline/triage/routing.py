"""The one routing function: (zone, category, urgent) -> primary unit, info-only units, priority."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

from tipline.triage.config import PRIORITIES, TiplineConfig

__all__ = ["PRIORITIES", "Routing", "has_urgent_words", "route", "routing_summary"]


@dataclass(frozen=True)
class Routing:
    primary: str
    info_only: tuple[str, ...]
    priority: str


def route(config: TiplineConfig, zone_id: str | None, category_id: str, urgent: bool) -> Routing:
    """Where a tip goes: the first matching rule's unit, plus info copies from every match."""
    category = config.categories.get(category_id)
    if category is None:
        raise ValueError(f"unknown category {category_id!r}")  # intake validates it first
    priority = category.priority
    if urgent:
        # One step up, never past the top: urgent words cannot outrank a real emergency.
        priority = PRIORITIES[max(PRIORITIES.index(priority) - 1, 0)]
    zone = config.zones.get(zone_id) if zone_id else None
    if zone is None:
        # No copies for an unknown place: the desk assigns a zone, then the tip is re-routed.
        return Routing(config.needs_zone_unit, (), priority)
    matching = [rule for rule in config.rules if rule.matches(zone, category_id)]
    # load_config guarantees some matching rule names a unit for every zone × category.
    primary = next(rule.unit for rule in matching if rule.unit)
    info = dict.fromkeys(  # a dict keeps rule order and drops repeats
        slug for rule in matching for slug in rule.info_units if slug != primary
    )
    return Routing(primary, tuple(info), priority)


def routing_summary(config: TiplineConfig) -> list[tuple[str, str, str, tuple[str, ...]]]:
    """(zone, category, primary, info-only) for every pair, as `tipline config check` shows it."""
    rows = []
    for zone in config.zones:
        for category in config.categories:
            routing = route(config, zone, category, urgent=False)
            rows.append((zone, category, routing.primary, routing.info_only))
    return rows


def has_urgent_words(config: TiplineConfig, text: str) -> bool:
    """Whether the text holds an urgent word or phrase, in any language.

    Runs in memory at intake; callers store only the boolean, never which word matched.
    """
    words = tuple(sorted({w for ws in config.urgent_words.values() for w in ws}))
    return _urgent_pattern(words).search(_fold(text)) is not None


def _fold(text: str) -> str:
    # Tipsters type on phones, often without accents: "bombe", "Bombe" and "BOMBÉ" must all
    # compare equal, so strip accents and case from both the words and the text.
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()


@lru_cache(maxsize=8)
def _urgent_pattern(words: tuple[str, ...]) -> re.Pattern[str]:
    # Whole words only ("gun" must not match "begun"); a phrase matches across any spacing.
    phrases = (r"\s+".join(map(re.escape, _fold(word).split())) for word in words)
    return re.compile(r"(?<!\w)(?:" + "|".join(phrases) + r")(?!\w)")
