"""Charts and the zone map as SVG, drawn on the server from published answers only.

No script and no third-party request: the browser receives finished SVG. Colours and
strokes are SVG presentation attributes (the pages' Content-Security-Policy allows no
inline styles). Withheld numbers are drawn hatched and labelled "withheld", never as 0.
Each chart names its own hatch pattern (ids are unique on a page); labels are laid out
so that none overlaps another or is cut; every chart has a value axis with ticks.
Printed, the charts keep their labels (black text on white).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from html import escape

from tipline.i18n import _l, localized_name
from tipline.triage.config import TiplineConfig

PALETTE = (
    "#1f4e79", "#c55a11", "#548235", "#7030a0", "#bf9000", "#2e75b6",
    "#843c0c", "#375623", "#a5a5a5", "#ffc000", "#5b9bd5", "#70ad47",
)  # fmt: skip
SHADES = ("#deebf7", "#9ecae1", "#6baed6", "#2171b5", "#08306b")
FONT = 13
CHAR = 0.58  # average advance of a sans-serif character, in ems: for laying out labels


@dataclass(frozen=True)
class Bar:
    label: str
    value: int | None  # None: not shown, for the reason in ``missing``
    missing: str = ""  # default: "withheld"


def text_width(text: str, size: float = FONT) -> float:
    return len(text) * size * CHAR


def _hatch(chart: str) -> str:
    return (
        f'<defs><pattern id="withheld-{chart}" width="6" height="6" '
        'patternUnits="userSpaceOnUse" patternTransform="rotate(45)">'
        '<rect width="6" height="6" fill="#ffffff"/>'
        '<line x1="0" y1="0" x2="0" y2="6" stroke="#767676" stroke-width="2"/></pattern></defs>'
    )


def _svg(chart: str, width: float, height: float, title: str, body: str) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width:.0f} {height:.0f}" '
        f'width="100%" role="img" aria-labelledby="title-{chart}" font-family="sans-serif" '
        f'font-size="{FONT}">{_hatch(chart)}<title id="title-{chart}">{escape(title)}</title>'
        f"{body}</svg>"
    )


def nice_ticks(top: float, most: int = 6) -> list[int]:
    """0 and round steps (1, 2 or 5 × 10ⁿ) up to at least ``top``."""
    top = max(top, 1)
    raw = top / most
    magnitude = 10 ** math.floor(math.log10(raw)) if raw >= 1 else 1
    step = next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= raw)
    step = max(int(step), 1)
    return list(range(0, int(math.ceil(top / step) * step) + 1, step))


def _wrap(text: str, room: float, size: float = FONT) -> list[str]:
    """``text`` in lines that fit ``room`` (words kept whole; a word longer than the room
    gets a line of its own)."""
    lines: list[str] = []
    for word in text.split():
        if lines and text_width(lines[-1] + " " + word, size) <= room:
            lines[-1] += " " + word
        else:
            lines.append(word)
    return lines or [""]


def _withheld_word() -> str:
    return str(_l("withheld"))


def bars(
    chart: str, title: str, items: list[Bar], width: int = 560, empty: str = "", unit: str = ""
) -> str:
    """Horizontal bars, one per item, with its number (or why it is missing) at the end,
    and a value axis with ticks below, named by ``unit`` (tips, hours)."""
    if not items:
        empty = empty or str(_l("No tips in this period."))
        return _svg(
            chart, width, 44, title, f'<text x="10" y="26" fill="#000000">{escape(empty)}</text>'
        )
    longest = max(text_width(item.label) for item in items)
    label_room = min(longest, width * 0.42)
    wrapped = [_wrap(item.label, label_room) for item in items]
    left = label_room + 16
    values = [item.value for item in items if item.value is not None]
    end_label = max(
        [text_width(str(v)) for v in values]
        + [
            text_width(item.missing or _withheld_word()) + 46
            for item in items
            if item.value is None
        ]
    )
    right = end_label + 12
    ticks = nice_ticks(max(values, default=1))
    scale = (width - left - right) / ticks[-1]
    body: list[str] = []
    y = 8.0
    for item, lines in zip(items, wrapped, strict=True):
        row = max(22, 16 * len(lines) + 6)
        for n, line in enumerate(lines):
            ty = y + row / 2 + 4 + (n - (len(lines) - 1) / 2) * 16
            body.append(
                f'<text x="{left - 8:.1f}" y="{ty:.1f}" text-anchor="end" fill="#000000">'
                f"{escape(line)}</text>"
            )
        top, height = y + 3, row - 6
        if item.value is None:
            body.append(
                f'<rect x="{left}" y="{top:.1f}" width="40" height="{height}" '
                f'fill="url(#withheld-{chart})" stroke="#767676"/>'
                f'<text x="{left + 46:.1f}" y="{y + row / 2 + 4:.1f}" fill="#000000">'
                f"{escape(item.missing or _withheld_word())}</text>"
            )
        else:
            length = item.value * scale
            body.append(
                f'<rect x="{left}" y="{top:.1f}" width="{length:.1f}" height="{height}" '
                f'fill="{PALETTE[0]}"/><text x="{left + length + 6:.1f}" '
                f'y="{y + row / 2 + 4:.1f}" fill="#000000">{item.value}</text>'
            )
        y += row
    axis = y + 4
    body.append(
        f'<line x1="{left}" y1="{axis:.1f}" x2="{left + ticks[-1] * scale:.1f}" y2="{axis:.1f}" '
        'stroke="#000000"/>'
    )
    for tick in ticks:
        x = left + tick * scale
        body.append(
            f'<line x1="{x:.1f}" y1="8" x2="{x:.1f}" y2="{axis:.1f}" stroke="#d9d9d9"/>'
            f'<line x1="{x:.1f}" y1="{axis:.1f}" x2="{x:.1f}" y2="{axis + 5:.1f}" stroke="#000000"/>'
            f'<text x="{x:.1f}" y="{axis + 18:.1f}" text-anchor="middle" fill="#000000">{tick}</text>'
        )
    total_height = axis + 26
    if unit:
        body.append(
            f'<text x="{left + ticks[-1] * scale / 2:.1f}" y="{axis + 38:.1f}" '
            f'text-anchor="middle" fill="#000000">{escape(unit)}</text>'
        )
        total_height += 16
    # Gridlines first, so bars and labels are drawn over them.
    grid = [b for b in body if 'stroke="#d9d9d9"' in b]
    rest = [b for b in body if 'stroke="#d9d9d9"' not in b]
    return _svg(chart, width, total_height, title, "".join(grid + rest))


@dataclass(frozen=True)
class Column:
    label: str  # the period, as shown under its column
    parts: list[tuple[str, int | None]]  # (series, count or None when withheld)


def columns(
    chart: str,
    title: str,
    items: list[Column],
    names: dict[str, str],
    width: int = 560,
    unit: str = "",
) -> str:
    """Stacked columns, one per period, stacked by series, with a value axis and a
    legend wrapped onto as many rows as the names need. A withheld part is a hatched
    sliver of fixed height, counted in no total."""
    if not items:
        none = escape(str(_l("No tips in this period.")))
        return _svg(chart, width, 44, title, f'<text x="10" y="26" fill="#000000">{none}</text>')
    series = sorted(
        {name for item in items for name, _ in item.parts}, key=lambda s: names.get(s, s)
    )
    colour = {name: PALETTE[i % len(PALETTE)] for i, name in enumerate(series)}
    sliver = 5
    heights = [sum(v for _, v in item.parts if v is not None) for item in items]
    ticks = nice_ticks(max(heights, default=1))
    axis_room = text_width(str(ticks[-1])) + 14 + (18 if unit else 0)
    left, plot_top, plot = axis_room, 10.0, 200.0
    step = (width - left - 10) / len(items)
    scale = plot / ticks[-1]
    base = plot_top + plot
    body: list[str] = []
    for tick in ticks:
        y = base - tick * scale
        body.append(
            f'<line x1="{left}" y1="{y:.1f}" x2="{width - 10}" y2="{y:.1f}" stroke="#d9d9d9"/>'
            f'<text x="{left - 6:.1f}" y="{y + 4:.1f}" text-anchor="end" fill="#000000">{tick}</text>'
        )
    body.append(f'<line x1="{left}" y1="{base}" x2="{width - 10}" y2="{base}" stroke="#000000"/>')
    body.append(f'<line x1="{left}" y1="{plot_top}" x2="{left}" y2="{base}" stroke="#000000"/>')
    if unit:  # the value axis's name, written up its side
        middle = plot_top + plot / 2
        body.append(
            f'<text x="12" y="{middle:.1f}" transform="rotate(-90 12 {middle:.1f})" '
            f'text-anchor="middle" fill="#000000">{escape(unit)}</text>'
        )
    widest = max(text_width(item.label) for item in items) + 8
    label_every = max(1, math.ceil(len(items) * widest / (width - left)))
    last_label_end = -math.inf
    for i, item in enumerate(items):
        x = left + i * step + step * 0.15
        bar = step * 0.7
        y = base
        for name in series:
            value = dict(item.parts).get(name, 0)
            if value == 0:
                continue
            label = escape(f"{names.get(name, name)}, {item.label}: ")
            if value is None:
                body.append(
                    f'<rect x="{x:.1f}" y="{y - sliver:.1f}" width="{bar:.1f}" height="{sliver}" '
                    f'fill="url(#withheld-{chart})" stroke="{colour[name]}">'
                    f"<title>{label}{escape(_withheld_word())}</title></rect>"
                )
                y -= sliver
                continue
            h = value * scale
            body.append(
                f'<rect x="{x:.1f}" y="{y - h:.1f}" width="{bar:.1f}" height="{h:.1f}" '
                f'fill="{colour[name]}"><title>{label}{value}</title></rect>'
            )
            y -= h
        # Centred under its column, never past either end of the axis, and only every
        # so many columns — and never where it would touch the label before it.
        half = text_width(item.label) / 2
        centre = min(max(x + bar / 2, left + half + 2), width - half - 2)
        if i % label_every == 0 and centre - half >= last_label_end + 6:
            last_label_end = centre + half
            body.append(
                f'<text x="{centre:.1f}" y="{base + 20:.1f}" text-anchor="middle" '
                f'fill="#000000">{escape(item.label)}</text>'
            )
    # The legend: as many rows as the names need, every name whole.
    x, y = left, base + 46
    for name in series:
        label = names.get(name, name)
        advance = 18 + text_width(label) + 16
        if x + advance > width and x > left:
            x, y = left, y + 20
        body.append(
            f'<rect x="{x:.1f}" y="{y - 10:.1f}" width="12" height="12" fill="{colour[name]}"/>'
            f'<text x="{x + 17:.1f}" y="{y:.1f}" fill="#000000">{escape(label)}</text>'
        )
        x += advance
    if any(v is None for item in items for _, v in item.parts):
        if x + 18 + text_width(_withheld_word()) > width and x > left:
            x, y = left, y + 20
        body.append(
            f'<rect x="{x:.1f}" y="{y - 10:.1f}" width="12" height="12" fill="url(#withheld-{chart})" '
            f'stroke="#767676"/><text x="{x + 17:.1f}" y="{y:.1f}" fill="#000000">'
            f"{escape(_withheld_word())}</text>"
        )
    return _svg(chart, width, y + 12, title, "".join(body))


def classes(values: list[int]) -> list[tuple[int, int]]:
    """Up to five ranges (low, high) of whole numbers that split the published non-zero
    counts into shades; as many as there are distinct values when fewer."""
    distinct = sorted(set(v for v in values if v > 0))
    if not distinct:
        return []
    if len(distinct) <= len(SHADES):
        edges = distinct
        return [
            (low, high) for low, high in zip([1, *[e + 1 for e in edges[:-1]]], edges, strict=True)
        ]
    top = distinct[-1]
    size = math.ceil(top / len(SHADES))
    return [(i * size + 1, min((i + 1) * size, top)) for i in range(len(SHADES))]


def zone_map(
    chart: str,
    title: str,
    counts: dict[str, int | None],
    config: TiplineConfig,
    width: int = 560,
    tallest: int = 380,
) -> str:
    """A choropleth of zones: shades by count ranges, withheld hatched, zero white. A
    zone is labelled with its name and number inside it where the label fits there
    without touching another; a zone too small for it gets a number, named in a key
    beneath the map."""
    from shapely.affinity import affine_transform
    from shapely.geometry import box as rectangle

    zones = list(config.zones.values())
    if not zones:
        return _svg(chart, width, 44, title, '<text x="10" y="26" fill="#000000">—</text>')
    west = min(z.geometry.bounds[0] for z in zones)
    south = min(z.geometry.bounds[1] for z in zones)
    east = max(z.geometry.bounds[2] for z in zones)
    north = max(z.geometry.bounds[3] for z in zones)
    squeeze = math.cos(math.radians((north + south) / 2))
    scale = min(
        (width - 20) / max((east - west) * squeeze, 1e-9), (tallest - 20) / max(north - south, 1e-9)
    )
    offset = (width - (east - west) * squeeze * scale) / 2
    map_height = (north - south) * scale + 20
    ranges = classes([v for v in counts.values() if v])
    shades = SHADES[-len(ranges) :] if ranges else ()
    # lon/lat -> drawing: x = offset + (lon − west)·squeeze·scale, y = 10 + (north − lat)·scale
    matrix = [squeeze * scale, 0, 0, -scale, offset - west * squeeze * scale, 10 + north * scale]

    def fill(count: int | None) -> str:
        if count is None:
            return f"url(#withheld-{chart})"
        for (low, high), shade in zip(ranges, shades, strict=True):
            if low <= count <= high:
                return shade
        return "#ffffff"

    body: list[str] = []
    placed: list[tuple[float, float, float, float]] = []
    keyed: list[str] = []
    markers: list[str] = []
    size = 11
    for zone in sorted(zones, key=lambda z: z.geometry.area, reverse=True):
        count = counts.get(zone.id, 0)
        name = localized_name(zone.names)
        shown = _withheld_word() if count is None else str(count)
        drawn = affine_transform(zone.geometry, matrix)
        polygons = getattr(drawn, "geoms", [drawn])
        path = " ".join(
            "M" + " L".join(f"{x:.1f},{y:.1f}" for x, y in p.exterior.coords) + " Z"
            for p in polygons
        )
        body.append(
            f'<path d="{path}" fill="{fill(count)}" stroke="#000000" stroke-width="0.8">'
            f"<title>{escape(name)}: {escape(shown)}</title></path>"
        )
        cx, cy = drawn.representative_point().coords[0]
        label = f"{name}: {shown}"
        w, h = text_width(label, size) + 6, size + 5
        spot = None
        for dx, dy in ((0, 0), (0, -h), (0, h), (0, -2 * h), (0, 2 * h)):
            candidate = (cx + dx - w / 2, cy + dy - h / 2, cx + dx + w / 2, cy + dy + h / 2)
            if drawn.contains(rectangle(*candidate)) and not any(
                _overlap(candidate, other) for other in placed
            ):
                spot = candidate
                break
        if spot is None:
            keyed.append(label)
            mx, my = _marker_spot(cx, cy, placed, width, map_height)
            placed.append((mx - 10, my - 10, mx + 10, my + 10))
            if (mx, my) != (cx, cy):  # moved off a crowded spot: a line back to its zone
                markers.append(
                    f'<line x1="{cx:.1f}" y1="{cy:.1f}" x2="{mx:.1f}" y2="{my:.1f}" '
                    'stroke="#000000" stroke-width="0.8"/>'
                )
            markers.append(
                f'<circle cx="{mx:.1f}" cy="{my:.1f}" r="8" fill="#ffffff" stroke="#000000"/>'
                f'<text x="{mx:.1f}" y="{my + 4:.1f}" text-anchor="middle" font-size="{size}" '
                f'fill="#000000">{len(keyed)}</text>'
            )
            continue
        placed.append(spot)
        markers.append(
            f'<rect x="{spot[0]:.1f}" y="{spot[1]:.1f}" width="{w:.1f}" height="{h:.1f}" '
            'fill="#ffffff" fill-opacity="0.85" rx="2"/>'
            f'<text x="{(spot[0] + spot[2]) / 2:.1f}" y="{spot[3] - 4.5:.1f}" '
            f'text-anchor="middle" font-size="{size}" fill="#000000">{escape(label)}</text>'
        )
    body += markers  # labels over every shape
    y = map_height + 14
    for number, label in enumerate(keyed, 1):
        body.append(f'<text x="10" y="{y:.1f}" fill="#000000">{number}. {escape(label)}</text>')
        y += 18
    # The legend: one swatch per range, then zero and withheld, wrapped as needed.
    entries = [
        (shade, f"{low}" if low == high else f"{low}–{high}")
        for (low, high), shade in zip(ranges, shades, strict=True)
    ]
    entries += [("#ffffff", "0"), (f"url(#withheld-{chart})", _withheld_word())]
    x = 10.0
    y += 8
    for shade, label in entries:
        advance = 22 + text_width(label) + 16
        if x + advance > width and x > 10:
            x, y = 10.0, y + 22
        body.append(
            f'<rect x="{x:.1f}" y="{y - 11:.1f}" width="14" height="14" fill="{shade}" '
            f'stroke="#000000"/><text x="{x + 20:.1f}" y="{y:.1f}" fill="#000000">'
            f"{escape(label)}</text>"
        )
        x += advance
    return _svg(chart, width, y + 12, title, "".join(body))


def _marker_spot(
    cx: float,
    cy: float,
    placed: list[tuple[float, float, float, float]],
    width: float,
    height: float,
) -> tuple[float, float]:
    """Where a numbered marker for a zone at (cx, cy) can go without touching another
    marker or label: on the zone, or ever further round it."""
    for distance in (0, 22, 44, 66):
        for step in range(1 if distance == 0 else 12):
            angle = 2 * math.pi * step / 12
            x, y = cx + distance * math.cos(angle), cy + distance * math.sin(angle)
            candidate = (x - 10, y - 10, x + 10, y + 10)
            inside = 10 <= x <= width - 10 and 10 <= y <= height - 10
            if inside and not any(_overlap(candidate, other) for other in placed):
                return x, y
    return cx, cy


def _overlap(a: tuple[float, float, float, float], b: tuple[float, float, float, float]) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


__all__ = ["Bar", "Column", "bars", "classes", "columns", "nice_ticks", "text_width", "zone_map"]
