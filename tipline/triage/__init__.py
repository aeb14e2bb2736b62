"""Triage: routing config, the routing function, and placing tips in unit queues."""

from tipline.triage.config import (
    PRIORITIES,
    Category,
    ConfigError,
    Province,
    Rule,
    TiplineConfig,
    UnitSpec,
    Zone,
    load_config,
)
from tipline.triage.routing import Routing, has_urgent_words, route, routing_summary

__all__ = [
    "PRIORITIES",
    "Category",
    "ConfigError",
    "Province",
    "Routing",
    "Rule",
    "TiplineConfig",
    "UnitSpec",
    "Zone",
    "has_urgent_words",
    "load_config",
    "route",
    "routing_summary",
]
