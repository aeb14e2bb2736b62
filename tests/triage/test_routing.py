"""Routing: first match wins for the primary, info copies add up, urgency raises one step."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from tipline.triage.config import PRIORITIES, TiplineConfig, load_config
from tipline.triage.routing import Routing, has_urgent_words, route, routing_summary

CONFIG_DIR = Path(__file__).parents[2] / "config"


@pytest.fixture(scope="module")
def config() -> TiplineConfig:
    return load_config(CONFIG_DIR)


def _with_rules(tmp_path: Path, rules: list[dict[str, object]]) -> TiplineConfig:
    """The shipped config with ``rules`` in front of the shipped ones."""
    copy = tmp_path / "config"
    shutil.copytree(CONFIG_DIR, copy)
    path = copy / "routing.yaml"
    routing = yaml.safe_load(path.read_text(encoding="utf-8"))
    routing["rules"] = rules + routing["rules"]
    path.write_text(yaml.safe_dump(routing, allow_unicode=True), encoding="utf-8")
    return load_config(copy)


def test_a_drug_tip_goes_to_the_district_with_a_copy_for_provincial_organized_crime(
    config: TiplineConfig,
) -> None:
    assert route(config, "on-north", "drugs", urgent=False) == Routing(
        "on-north-general", ("on-organized-crime",), "normal"
    )
    # The copy stays in its province.
    assert route(config, "qc-montreal", "drugs", urgent=False).info_only == ("qc-organized-crime",)


def test_organized_crime_goes_to_the_provincial_unit_ahead_of_the_district(
    config: TiplineConfig,
) -> None:
    # Both the provincial rule and on-east's catch-all match; the earlier rule wins.
    assert route(config, "on-east", "organized-crime", urgent=False) == Routing(
        "on-organized-crime", (), "high"
    )
    assert (
        route(config, "qc-laval", "organized-crime", urgent=False).primary == "qc-organized-crime"
    )


def test_other_categories_stay_with_the_district_without_copies(config: TiplineConfig) -> None:
    assert route(config, "qc-quebec-city", "property-crime", urgent=False) == Routing(
        "qc-quebec-city-general", (), "low"
    )


@pytest.mark.parametrize("zone", [None, "", "atlantis"])
def test_an_unknown_place_goes_to_the_needs_zone_desk_alone(
    config: TiplineConfig, zone: str | None
) -> None:
    assert route(config, zone, "drugs", urgent=False) == Routing("needs-zone", (), "normal")


def test_first_match_wins_even_over_a_more_specific_later_rule(tmp_path: Path) -> None:
    config = _with_rules(
        tmp_path, [{"zones": ["on"], "categories": ["*"], "unit": "on-east-general"}]
    )
    assert route(config, "on-north", "weapons", urgent=False).primary == "on-east-general"
    # A rule without a unit is skipped when picking the primary.
    config = _with_rules(
        tmp_path / "2", [{"zones": ["*"], "categories": ["weapons"], "info_units": ["needs-zone"]}]
    )
    assert route(config, "on-north", "weapons", urgent=False) == Routing(
        "on-north-general", ("needs-zone",), "high"
    )


def test_info_units_of_every_matching_rule_are_united_without_the_primary(
    tmp_path: Path,
) -> None:
    config = _with_rules(
        tmp_path,
        [
            # Primary here, and also named as info below: it must not appear twice.
            {
                "zones": ["on-central"],
                "categories": ["drugs"],
                "unit": "on-central-general",
                "info_units": ["on-east-general"],
            },
            {"zones": ["*"], "categories": ["drugs"], "info_units": ["on-central-general"]},
            {"zones": ["on"], "categories": ["*"], "info_units": ["on-east-general"]},
            {"zones": ["qc"], "categories": ["drugs"], "info_units": ["qc-laval-general"]},
        ],
    )
    routing = route(config, "on-central", "drugs", urgent=False)
    assert routing.primary == "on-central-general"
    # In rule order, each once: the added rules first, then the shipped drug rule.
    assert routing.info_only == ("on-east-general", "on-organized-crime")


@pytest.mark.parametrize(
    ("category", "calm", "urgent"),
    [
        ("property-crime", "low", "normal"),
        ("drugs", "normal", "high"),
        ("weapons", "high", "urgent"),
        ("missing-person", "urgent", "urgent"),  # already the top: never past it
    ],
)
def test_urgent_words_raise_priority_by_one_step(
    config: TiplineConfig, category: str, calm: str, urgent: str
) -> None:
    assert route(config, "on-central", category, urgent=False).priority == calm
    assert route(config, "on-central", category, urgent=True).priority == urgent
    # An unknown place is just as urgent.
    assert route(config, None, category, urgent=True).priority == urgent


def test_priorities_run_from_most_to_least_urgent() -> None:
    assert PRIORITIES == ("urgent", "high", "normal", "low")


def test_an_unknown_category_is_refused(config: TiplineConfig) -> None:
    with pytest.raises(ValueError, match="'arson'"):
        route(config, "on-north", "arson", urgent=False)


@pytest.mark.parametrize(
    "text",
    [
        "He has a gun and will use it tonight.",
        "GUN in the trunk",
        "Il y a une Bombe dans le garage",
        "une BOMBÉ",  # accents are ignored on the text side too
        "Il a caché l'arme sous le lit",
        "rendez-vous CE   SOIR",
        "ce\nsoir",
        "risque d'enlevement",  # the word is written "enlèvement" in the config
        "Ils vont le tuer.",
    ],
)
def test_urgent_words_match_whole_words_ignoring_case_and_accents(
    config: TiplineConfig, text: str
) -> None:
    assert has_urgent_words(config, text) is True


@pytest.mark.parametrize(
    "text",
    [
        "Bikes stolen from the rack again.",
        "The game had begun",  # "gun" inside a word
        "a skillful forger",  # "kill" inside a word
        "l'armée est passée",  # "arme" inside a word
        "cesoir",
        "",
    ],
)
def test_text_without_urgent_words_does_not_match(config: TiplineConfig, text: str) -> None:
    assert has_urgent_words(config, text) is False


def test_the_summary_lists_every_zone_and_category_as_routed(config: TiplineConfig) -> None:
    summary = routing_summary(config)
    assert len(summary) == len(config.zones) * len(config.categories)
    assert {(zone, category) for zone, category, _, _ in summary} == {
        (zone, category) for zone in config.zones for category in config.categories
    }
    assert ("on-north", "drugs", "on-north-general", ("on-organized-crime",)) in summary
    for zone, category, primary, info in summary:
        routing = route(config, zone, category, urgent=False)
        assert (routing.primary, routing.info_only) == (primary, info)
        assert primary in config.units and primary != config.needs_zone_unit
