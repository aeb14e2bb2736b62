"""Charts and the zone map as SVG, drawn on the server from published tables only.

No script and no third-party request: the browser receives finished SVG. Colours and
strokes are SVG presentation attributes (the pages' Content-Security-Policy allows no
inline styles). Withheld numbers are drawn as hatched, labelled "withheld", never as 0.
Printed, the charts keep their labels (black text on white).
"""

from __future__ import annotations

from dataclasses import dataclass
from html import escape

from tipline.i18n import _l, localized_name
from tipline.stats.suppress import ALL, Table
from tipline.triage.config import TiplineConfig

PALETTE = (
    "#1f4e79", "#c55a11", "#548235", "#7030a0", "#bf9000", "#2e75b6",
    "#a9d18e", "#f4b183", "#8faadc", "#ffd966", "#c9c9c9", "#5b9bd5",
)  # fmt: skip
HATCH = (
    '<defs><pattern id="withheld" width="6" height="6" patternUnits="userSpaceOnUse" '
    'patternTransform="rotate(45)"><rect width="6" height="6" fill="#ffffff"/>'
    '<line x1="0" y1="0" x2="0" y2="6" stroke="#767676" stroke-width="2"/></pattern></defs>'
)


@dataclass(frozen=True)
class Bar:
    label: str
    value: int | None  # None: not shown, for the reason in ``missing``
    missing: str = ""  # default: "withheld"


def _svg(width: int, height: int, title: str, body: str) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
        f'width="100%" role="img" aria-label="{escape(title)}" font-family="sans-serif" '
        f'font-size="12">{HATCH}<title>{escape(title)}</title>{body}</svg>'
    )


def bars(title: str, items: list[Bar], width: int = 640, empty: str = "") -> str:
    """Horizontal bars, one per item, with its number (or "withheld") at the end."""
    row, left, right = 22, 190, 70
    height = max(row * len(items) + 10, 40)
    top = max((b.value or 0 for b in items), default=0) or 1
    body = []
    for i, item in enumerate(items):
        y = 5 + i * row
        label = escape(item.label[:32])
        body.append(
            f'<text x="{left - 6}" y="{y + 14}" text-anchor="end" fill="#000000">{label}</text>'
        )
        if item.value is None:
            body.append(
                f'<rect x="{left}" y="{y + 2}" width="40" height="{row - 6}" fill="url(#withheld)" '
                'stroke="#767676"/>'
                f'<text x="{left + 46}" y="{y + 14}" fill="#000000">'
                f"{escape(item.missing or str(_l('withheld')))}</text>"
            )
            continue
        length = (width - left - right) * item.value / top
        body.append(
            f'<rect x="{left}" y="{y + 2}" width="{length:.1f}" height="{row - 6}" fill="{PALETTE[0]}"/>'
            f'<text x="{left + length + 6:.1f}" y="{y + 14}" fill="#000000">{item.value}</text>'
        )
    if not items:
        empty = empty or str(_l("No tips in this period."))
        body.append(f'<text x="10" y="24" fill="#000000">{escape(empty)}</text>')
    return _svg(width, height, title, "".join(body))


def over_time(title: str, table: Table, series_names: dict[str, str], width: int = 640) -> str:
    """Stacked columns: one per period, stacked by the first key (e.g. category), from a
    (series, period) table. Withheld parts are stacked hatched, with their height unknown
    drawn as a fixed sliver and counted in no total."""
    periods = sorted({c.key[1] for c in table.cells})
    series = sorted({c.key[0] for c in table.cells})
    value = {(c.key[0], c.key[1]): c.count for c in table.cells}
    period_totals = {t.key[1]: t.count for t in table.totals if t.key[0] == ALL and t.key[1] != ALL}
    top = max([v for v in period_totals.values() if v] + [1])
    left, bottom, height = 40, 40, 260
    plot = height - bottom - 10
    step = (width - left - 10) / max(len(periods), 1)
    body = [
        f'<line x1="{left}" y1="{height - bottom}" x2="{width - 10}" y2="{height - bottom}" stroke="#000000"/>'
    ]
    for i, period in enumerate(periods):
        x = left + i * step + step * 0.15
        bar = step * 0.7
        y = height - bottom
        for j, name in enumerate(series):
            count = value.get((name, period), 0)
            if count == 0 and (name, period) not in value:
                continue
            if count is None:
                body.append(
                    f'<rect x="{x:.1f}" y="{y - 4:.1f}" width="{bar:.1f}" height="4" fill="url(#withheld)"/>'
                )
                y -= 4
                continue
            h = plot * count / top
            body.append(
                f'<rect x="{x:.1f}" y="{y - h:.1f}" width="{bar:.1f}" height="{h:.1f}" '
                f'fill="{PALETTE[j % len(PALETTE)]}"><title>{escape(series_names.get(name, name))}, '
                f"{escape(period)}: {count}</title></rect>"
            )
            y -= h
        if i % max(1, len(periods) // 8) == 0:
            body.append(
                f'<text x="{x + bar / 2:.1f}" y="{height - bottom + 16}" text-anchor="middle" '
                f'fill="#000000">{escape(period[:7])}</text>'
            )
    legend_y = height - 8
    for j, name in enumerate(series[:6]):
        body.append(
            f'<rect x="{left + j * 100}" y="{legend_y - 10}" width="10" height="10" fill="{PALETTE[j % len(PALETTE)]}"/>'
            f'<text x="{left + j * 100 + 14}" y="{legend_y}" fill="#000000">{escape(series_names.get(name, name)[:12])}</text>'
        )
    if not periods:
        none = escape(str(_l("No tips in this period.")))
        body.append(f'<text x="10" y="24" fill="#000000">{none}</text>')
    return _svg(width, height, title, "".join(body))


def zone_map(title: str, table: Table, config: TiplineConfig, width: int = 640) -> str:
    """A choropleth of zones from a (zone,) table: five shades by count, withheld
    hatched; an equirectangular projection, corrected for latitude."""
    import math

    counts = {c.key[0]: c.count for c in table.cells}
    zones = list(config.zones.values())
    if not zones:
        return _svg(width, 60, title, '<text x="10" y="24" fill="#000000">No zones.</text>')
    west = min(z.geometry.bounds[0] for z in zones)
    south = min(z.geometry.bounds[1] for z in zones)
    east = max(z.geometry.bounds[2] for z in zones)
    north = max(z.geometry.bounds[3] for z in zones)
    squeeze = math.cos(math.radians((north + south) / 2))
    scale = (width - 20) / max((east - west) * squeeze, 1e-9)
    height = int((north - south) * scale) + 60
    shades = ("#f7fbff", "#c6dbef", "#6baed6", "#2171b5", "#08306b")
    top = max([v for v in counts.values() if v] + [1])

    def point(lon: float, lat: float) -> str:
        return f"{10 + (lon - west) * squeeze * scale:.1f},{10 + (north - lat) * scale:.1f}"

    body = []
    for zone in zones:
        count = counts.get(zone.id, 0)
        fill = (
            "url(#withheld)"
            if count is None
            else shades[min(4, int(4 * count / top + 0.999))]
            if count
            else shades[0]
        )
        polygons = getattr(zone.geometry, "geoms", [zone.geometry])
        path = " ".join(
            "M" + " L".join(point(x, y) for x, y in polygon.exterior.coords) + " Z"
            for polygon in polygons
        )
        label = localized_name(zone.names)
        shown = str(_l("withheld")) if count is None else str(count)
        body.append(
            f'<path d="{path}" fill="{fill}" stroke="#000000" stroke-width="0.8">'
            f"<title>{escape(label)}: {shown}</title></path>"
        )
        cx, cy = zone.geometry.representative_point().coords[0]
        body.append(
            f'<text x="{point(cx, cy).split(",")[0]}" y="{point(cx, cy).split(",")[1]}" '
            f'text-anchor="middle" fill="#000000" font-size="10">{escape(label[:18])}: {shown}</text>'
        )
    legend = "".join(
        f'<rect x="{10 + i * 60}" y="{height - 30}" width="14" height="14" fill="{shade}" stroke="#000000"/>'
        f'<text x="{28 + i * 60}" y="{height - 19}" fill="#000000">≤{round(top * (i + 1) / 5)}</text>'
        for i, shade in enumerate(shades)
    ) + (
        f'<rect x="{10 + 5 * 60}" y="{height - 30}" width="14" height="14" fill="url(#withheld)" stroke="#000000"/>'
        f'<text x="{28 + 5 * 60}" y="{height - 19}" fill="#000000">{escape(str(_l("withheld")))}</text>'
    )
    return _svg(width, height, title, "".join(body) + legend)
