"""The tipster's pages work for keyboard and screen-reader users, in both languages."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.support.forms import csrf_token
from tests.support.html import Page, page_of

pytestmark = pytest.mark.embedded

CSS = Path(__file__).resolve().parents[2] / "tipline" / "static" / "tipline.css"


def _pages(client) -> dict[str, Page]:  # type: ignore[no-untyped-def]
    """Every tipster page of the intake flow, in English and French."""
    pages = {}
    for lang in ("en", "fr"):
        pages[f"form-{lang}"] = page_of(client.get(f"/tip?lang={lang}"))
        token = csrf_token(client, "/tip")
        base = {"category": "drugs", "zone": "on-north", "lang": lang, "csrf_token": token}
        pages[f"error-{lang}"] = page_of(client.post("/tip", data={**base, "description": "short"}))
        pages[f"receipt-{lang}"] = page_of(
            client.post("/tip", data={**base, "description": "A blue van at night, again."})
        )
        pages[f"404-{lang}"] = page_of(client.get(f"/nowhere?lang={lang}"))
    return pages


def test_every_control_has_a_visible_label(client) -> None:  # type: ignore[no-untyped-def]
    for name, page in _pages(client).items():
        labels = {e.get("for"): e.text for e in page.find_all("label")}
        controls = [
            e
            for e in page.elements
            if e.tag in ("select", "textarea")
            or (e.tag == "input" and e.get("type") not in ("hidden", "submit"))
        ]
        for control in controls:
            assert labels.get(control.get("id")), f"{name}: {control.attrs} has no label"
        for button in page.find_all("button"):
            assert button.text, f"{name}: a button without text"


def test_references_between_elements_resolve_and_ids_are_unique(client) -> None:  # type: ignore[no-untyped-def]
    for name, page in _pages(client).items():
        ids = [e.get("id") for e in page.elements if e.get("id")]
        assert len(ids) == len(set(ids)), f"{name}: duplicate ids"
        for element in page.elements:
            for attribute in ("aria-describedby", "aria-labelledby"):
                for target in (element.get(attribute) or "").split():
                    assert target in ids, f"{name}: {attribute}={target} points nowhere"
            href = element.get("href") or ""
            if element.tag == "a" and href.startswith("#"):
                assert href[1:] in ids, f"{name}: link to missing #{href[1:]}"


def test_keyboard_order_is_the_page_order_and_a_skip_link_comes_first(client) -> None:  # type: ignore[no-untyped-def]
    for name, page in _pages(client).items():
        for element in page.elements:
            tabindex = element.get("tabindex")
            assert tabindex is None or int(tabindex) <= 0, f"{name}: positive tabindex"
        first_link = page.find_all("a")[0]
        assert first_link.get("href") == "#main" and first_link.text, name
        page.by_id("main")


def test_the_page_language_is_declared_and_the_other_language_is_marked(client) -> None:  # type: ignore[no-untyped-def]
    for name, page in _pages(client).items():
        lang = name.rsplit("-", 1)[1]
        assert page.lang == lang
        (link,) = page.find_all("nav")[0].children
        other = "fr" if lang == "en" else "en"
        assert (link.get("lang"), link.get("hreflang")) == (other, other)


def test_the_honeypot_is_hidden_from_people_and_assistive_technology(client) -> None:  # type: ignore[no-untyped-def]
    page = page_of(client.get("/tip"))
    trap = page.by_id("website")
    assert trap.get("tabindex") == "-1"
    hidden = [a for a in trap.ancestors() if a.get("aria-hidden") == "true"]
    assert hidden and "trap" in (hidden[0].get("class") or "")
    rule = _rules()[".trap"]
    # Off-screen rather than display:none, which some bots recognise and skip.
    assert rule.get("position") == "absolute" and rule.get("left", "").startswith("-")
    assert "display" not in rule and "visibility" not in rule


def test_no_inline_script_and_no_third_party_assets(client) -> None:  # type: ignore[no-untyped-def]
    for name, page in _pages(client).items():
        for script in page.find_all("script"):  # only our own files, never inline code
            assert (script.get("src") or "").startswith("/static/") and not script.text, name
        for element in page.elements:
            for attribute in ("src", "href", "action"):
                value = element.get(attribute) or ""
                assert not re.match(r"(https?:)?//", value), f"{name}: {value}"


# --- colours (WCAG 2.2 AA) -------------------------------------------------------------


def _rules() -> dict[str, dict[str, str]]:
    text = re.sub(r"/\*.*?\*/", "", CSS.read_text(), flags=re.S)
    rules: dict[str, dict[str, str]] = {}
    for selectors, body in re.findall(r"([^{}]+)\{([^{}]*)\}", text):
        declarations = dict(
            (k.strip(), v.strip())
            for k, v in (d.split(":", 1) for d in body.split(";") if ":" in d)
        )
        for selector in selectors.split(","):
            rules.setdefault(selector.strip(), {}).update(declarations)
    return rules


def _hex(value: str) -> str | None:
    match = re.search(r"#([0-9a-fA-F]{6}|[0-9a-fA-F]{3})\b", value)
    if not match:
        return None
    digits = match.group(1)
    return "".join(c * 2 for c in digits) if len(digits) == 3 else digits


def _luminance(hex_colour: str) -> float:
    def channel(c: float) -> float:
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (channel(int(hex_colour[i : i + 2], 16) / 255) for i in (0, 2, 4))
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def _contrast(a: str, b: str) -> float:
    high, low = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def test_contrast_helper_knows_the_extremes() -> None:
    assert round(_contrast("000000", "ffffff"), 1) == 21.0
    assert _contrast("777777", "ffffff") < 4.5  # the classic too-light grey fails


def test_text_colours_are_readable_on_every_background_they_can_sit_on() -> None:
    rules = _rules()
    page_backgrounds = {"ffffff"} | {
        colour
        for rule in rules.values()
        if (colour := _hex(rule.get("background", ""))) and _luminance(colour) > 0.5
    }
    failures, checked = [], set()
    for selector, rule in rules.items():
        text = _hex(rule.get("color", ""))
        if not text:
            continue
        checked.add(selector)
        own = _hex(rule.get("background", ""))
        # A rule with its own background (a button) is read on it; others on any panel.
        for background in {own} if own else page_backgrounds:
            if _contrast(text, background) < 4.5:
                failures.append(f"{selector}: #{text} on #{background}")
    assert {"body", ".hint", ".error", ".field-error", "button", "a"} <= checked
    assert {"f3f3f3", "eef3f8"} <= page_backgrounds
    assert not failures, failures


def test_control_borders_and_the_focus_ring_stand_out() -> None:
    rules = _rules()
    for selector in ("select", "textarea", "input", '[aria-invalid="true"]'):
        border = _hex(rules[selector]["border"])
        assert border and _contrast(border, "ffffff") >= 3, selector
    focus = rules["a:focus-visible"]
    for selector in ("button:focus-visible", "select:focus-visible", "input:focus-visible"):
        assert rules[selector] == focus
    ring = _hex(focus["outline"])
    assert ring and _contrast(ring, "ffffff") >= 3
    # The halo keeps the ring visible on the dark button as well.
    halo = _hex(focus["box-shadow"])
    assert halo and _contrast(halo, "003366") >= 3
