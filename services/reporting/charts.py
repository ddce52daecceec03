"""Charts for reports as standalone SVG 1.1 documents: radar per school, trend over years, heatmap of districts.

Pure functions, no I/O, standard library only: each returns the SVG text, which a route can serve as
``image/svg+xml`` or inline in HTML. All caller-provided text (labels, titles) is escaped here.

Accessibility: the root has ``role="img"``, ``<title>`` as its first child and a ``<desc>`` that states every
value in words (including which ones are missing), so a screen reader gets the same facts as the picture.
Series differ by Okabe–Ito colour *and* dash pattern *and* marker shape; the heatmap uses the ColorBrewer YlGnBu
sequential scale (colour-blind safe) with the value printed in each cell in a contrasting colour.

Structure the API relies on (class names and data attributes, stable for routes and tests):

* every chart: root ``<svg>`` → ``<title>``, ``<desc>``, ``<rect class="background">``, ``<text class="chart-title">``,
  ``<g class="legend">`` with ``<g class="legend-item" data-series="i">`` (radar, trend);
  ``<text class="note">`` when there is nothing to draw (no axes, no years, no rows/columns, too few axes).
* radar: ``<g class="plot" data-cx data-cy data-radius data-max>``; ``<line class="axis" data-axis="id">`` from the
  centre to the rim; ``<text class="axis-label" data-axis="id">`` (long labels wrapped into ``<tspan>``);
  ``<polygon|circle class="ring" data-level>`` and ``<text class="ring-label" data-level>``;
  per series ``<g class="series" data-series="i" data-label="…" data-missing="id id">`` containing either one
  closed ``<polygon class="series-line">`` (all values present, ≥3 axes) or one ``<polyline class="series-line">``
  per run of consecutive present axes (a missing value leaves a gap), and a ``class="point"`` marker
  (``data-axis``, ``data-value``, ``<title>`` tooltip) at every present value.
* trend: ``<text class="x-tick-label" data-year>``, ``<text class="y-tick-label" data-value>``,
  ``<line class="grid" data-value>``, ``<text class="axis-title">``; per series ``<g class="series" data-series
  data-label>`` with ``<polyline class="segment">`` per run of consecutive present years and a ``class="marker"``
  (``data-year``, ``data-value``, ``<title>`` "series, year: value") at every present point.
* heatmap: ``<rect class="cell" data-row data-col data-status="shown|missing|suppressed" [data-value]>`` with a
  ``<title>`` tooltip, and ``<text class="cell-label" data-row data-col>`` showing "3,4", "–" or "..";
  ``<text class="row-label" data-row>``, ``<text class="col-label" data-col>``; legend swatches
  ``<rect class="legend-swatch" data-value>`` and ``<rect class="legend-missing">``/``<rect class="legend-suppressed">``.
  A suppressed cell never carries its value (no data-value, nothing in title or desc).

Values outside the scale are clamped for drawing only; tooltips, cell text and desc show the true value.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from xml.sax.saxutils import escape, quoteattr

SVG_NS = "http://www.w3.org/2000/svg"
FONT_FAMILY = "system-ui, sans-serif"

# Okabe–Ito without yellow (too little contrast on white for a line).
PALETTE = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000")
DASHES = ("", "8 4", "2 3", "10 3 2 3", "5 5")  # "" = solid
MARKERS = ("circle", "square", "triangle", "diamond", "triangle-down", "star")
# ColorBrewer YlGnBu, 9 classes: light yellow → dark blue.
SEQUENTIAL = ("#ffffd9", "#edf8b1", "#c7e9b4", "#7fcdbb", "#41b6c4", "#1d91c0", "#225ea8", "#253494", "#081d58")

DARK_TEXT = "#1a1a1a"
LIGHT_TEXT = "#ffffff"
MUTED_TEXT = "#555555"
MISSING_FILL = "#f0f0f0"
SUPPRESSED_FILL = "#c8c8c8"
MISSING_MARK = "–"
SUPPRESSED_MARK = ".."
MISSING_WORD = "saknas"
SUPPRESSED_WORD = "dolt värde"
LEGEND_MISSING = "saknas (inga uppgifter)"
LEGEND_SUPPRESSED = "dolt värde (för få svarande)"
# Every word a chart says, in the reader's language (``lang`` of radar/trend/heatmap; Swedish by default).
# English charts write numbers with a decimal point, Swedish ones with a decimal comma.
WORDS: dict[str, dict[str, str]] = {
    "sv": {"missing": MISSING_WORD, "suppressed": SUPPRESSED_WORD, "legend_missing": LEGEND_MISSING, "legend_suppressed": LEGEND_SUPPRESSED,
           "radar": "Radardiagram: {title}. {n} axlar, skala 0–{max}.", "no_axes": "Inga axlar att visa",
           "few_axes": "För få axlar för ett radardiagram (minst 3 krävs, här {n}); värdena visas som punkter.",
           "no_series": "Inga serier att visa.", "no_values": "inga värden", "outside": " (utanför skalan)", "none": "inga",
           "trend": "Linjediagram: {title}. År {span}, {label} på skala {lo}–{hi}.", "no_years": "Inga år att visa", "level": "Nivå",
           "heatmap": "Rutnät: {title}. {rows} rader × {cols} kolumner, skala {lo}–{hi}; ”{missing_mark}” betyder {missing}, "
                      "”{suppressed_mark}” betyder {suppressed} (för få svarande).",
           "no_data": "Inga data att visa", "scale": "Skala {lo}–{hi}"},
    "en": {"missing": "missing", "suppressed": "suppressed value", "legend_missing": "missing (no data)",
           "legend_suppressed": "suppressed value (too few respondents)",
           "radar": "Radar chart: {title}. {n} axes, scale 0–{max}.", "no_axes": "No axes to show",
           "few_axes": "Too few axes for a radar chart (at least 3 needed, here {n}); the values are shown as points.",
           "no_series": "No series to show.", "no_values": "no values", "outside": " (outside the scale)", "none": "none",
           "trend": "Line chart: {title}. Years {span}, {label} on a scale of {lo}–{hi}.", "no_years": "No years to show", "level": "Level",
           "heatmap": "Grid: {title}. {rows} rows × {cols} columns, scale {lo}–{hi}; “{missing_mark}” means {missing}, "
                      "“{suppressed_mark}” means {suppressed} (too few respondents).",
           "no_data": "No data to show", "scale": "Scale {lo}–{hi}"},
}


def _words(lang: str) -> dict[str, str]:
    return WORDS.get(lang, WORDS["sv"])

_CHAR_W = 0.58  # rough average glyph width as a share of the font size, for layout estimates
_INVALID_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


# -- text and numbers ----------------------------------------------------------------------------------------------


def _clean(text: object) -> str:
    """Characters XML 1.0 cannot carry at all (control characters) are dropped; everything else is escaped later."""
    return _INVALID_XML.sub("", str(text))


def _t(text: object) -> str:
    return escape(_clean(text))


def _a(value: object) -> str:
    return quoteattr(_clean(value), {"\n": "&#10;", "\r": "&#13;", "\t": "&#9;"})


def _n(x: float) -> str:
    """Coordinates: one decimal, no "-0.0"."""
    s = f"{x:.1f}"
    return "0.0" if s == "-0.0" else s


def _value(v: object) -> float | None:
    """A drawable number, or None for missing (None, non-numbers, NaN and infinities)."""
    if v is None or isinstance(v, bool):
        return None
    try:
        f = float(v)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None


def _sv(v: float, lang: str = "sv") -> str:
    """One decimal with Swedish decimal comma (a point in English), rounding the decimal as written (3.45 → "3,5")."""
    try:
        d = Decimal(repr(float(v))).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)
        s = format(d, "f")
    except InvalidOperation:  # astronomically large values
        s = f"{v:.1f}"
    if s == "-0.0":
        s = "0.0"
    return s if lang == "en" else s.replace(".", ",")


def _level(v: float, lang: str = "sv") -> str:
    """Scale numbers: "3" for whole numbers, else one decimal with comma."""
    return str(int(v)) if float(v).is_integer() and abs(v) < 1e15 else _sv(v, lang)


def _raw(v: float) -> str:
    return repr(float(v))


def _clamp(v: float, lo: float, hi: float) -> float:
    return lo if v < lo else hi if v > hi else v


def _width(text: str, font: float) -> float:
    return len(text) * font * _CHAR_W


def _wrap(text: object, max_chars: int) -> list[str]:
    words = _clean(text).split()
    if not words:
        return [""]
    lines: list[str] = []
    cur = ""
    for w in words:
        if not cur:
            cur = w
        elif len(cur) + 1 + len(w) <= max_chars:
            cur += " " + w
        else:
            lines.append(cur)
            cur = w
    lines.append(cur)
    return lines


def _scale_bounds(lo: object, hi: object, default_lo: float, default_hi: float) -> tuple[float, float]:
    a = _value(lo)
    b = _value(hi)
    a = default_lo if a is None else a
    b = default_hi if b is None else b
    if b <= a:
        b = a + 1.0
    return a, b


# -- SVG building ---------------------------------------------------------------------------------------------------


def _el(tag: str, attrs: Mapping[str, object] | None = None, *children: str, text: str | None = None) -> str:
    head = "<" + tag + "".join(f" {k}={_a(v)}" for k, v in (attrs or {}).items() if v is not None)
    inner = (_t(text) if text is not None else "") + "".join(children)
    return head + ("/>" if not inner else ">" + inner + f"</{tag}>")


def _text(lines: Sequence[str], x: float, y: float, line_height: float, attrs: Mapping[str, object]) -> str:
    """A text element; several lines become tspans stacked downwards from (x, y)."""
    base = {"x": _n(x), "y": _n(y), **attrs}
    if len(lines) == 1:
        return _el("text", base, text=lines[0])
    spans = [_el("tspan", {"x": _n(x), "y": _n(y + i * line_height)}, text=line) for i, line in enumerate(lines)]
    return _el("text", base, *spans)


def _document(width: float, height: float, title: str, desc: str, body: Iterable[str], lang: str = "sv") -> str:
    w, h = int(math.ceil(width)), int(math.ceil(height))
    head = (
        f'<svg xmlns="{SVG_NS}" version="1.1" viewBox="0 0 {w} {h}" width="{w}" height="{h}" role="img" '
        f'xml:lang="{"en" if lang == "en" else "sv"}" font-family="{FONT_FAMILY}">'
    )
    parts = [head, _el("title", None, text=title), _el("desc", None, text=desc)]
    parts.append(_el("rect", {"class": "background", "x": "0", "y": "0", "width": str(w), "height": str(h), "fill": "#ffffff"}))
    parts.extend(body)
    parts.append("</svg>")
    return "\n".join(parts)


def _title_block(title: str, width: float, font: float = 16.0) -> tuple[str, float]:
    """Visible heading at the top; returns the element and the height it takes."""
    max_chars = max(10, int((width - 32) / (font * _CHAR_W)))
    lines = _wrap(title, max_chars)
    lh = font * 1.25
    el = _text(lines, 16, 12 + font, lh, {"class": "chart-title", "font-size": _n(font), "font-weight": "600", "fill": DARK_TEXT})
    return el, 12 + len(lines) * lh + 10


def _style(i: int) -> tuple[str, str, str]:
    return PALETTE[i % len(PALETTE)], DASHES[i % len(DASHES)], MARKERS[i % len(MARKERS)]


def _marker(shape: str, x: float, y: float, r: float, colour: str, attrs: Mapping[str, object], tooltip: str | None) -> str:
    common = {**attrs, "fill": colour, "stroke": "#ffffff", "stroke-width": "1"}
    kids = [_el("title", None, text=tooltip)] if tooltip is not None else []
    if shape == "circle":
        return _el("circle", {"cx": _n(x), "cy": _n(y), "r": _n(r), **common}, *kids)
    if shape == "square":
        s = r * 0.9
        pts = [(x - s, y - s), (x + s, y - s), (x + s, y + s), (x - s, y + s)]
    elif shape == "diamond":
        s = r * 1.3
        pts = [(x, y - s), (x + s, y), (x, y + s), (x - s, y)]
    elif shape in ("triangle", "triangle-down"):
        s = r * 1.3
        start = -90 if shape == "triangle" else 90
        pts = [(x + s * math.cos(math.radians(start + k * 120)), y + s * math.sin(math.radians(start + k * 120))) for k in range(3)]
    else:  # star
        pts = []
        for k in range(10):
            rr = r * 1.45 if k % 2 == 0 else r * 0.62
            ang = math.radians(-90 + k * 36)
            pts.append((x + rr * math.cos(ang), y + rr * math.sin(ang)))
    return _el("polygon", {"points": _points(pts), **common}, *kids)


def _points(pts: Iterable[tuple[float, float]]) -> str:
    return " ".join(f"{_n(x)},{_n(y)}" for x, y in pts)


def _line_attrs(colour: str, dash: str, width: float = 2.5) -> dict[str, object]:
    return {
        "fill": "none",
        "stroke": colour,
        "stroke-width": _n(width),
        "stroke-dasharray": dash or None,
        "stroke-linejoin": "round",
        "stroke-linecap": "round",
    }


def _series_legend(labels: Sequence[str], x0: float, y0: float, max_width: float) -> tuple[str, float]:
    """Legend rows: a line sample with the series' dash and marker, then its label. Returns (group, height)."""
    if not labels:
        return "", 0.0
    font, row_h = 13.0, 22.0
    items: list[str] = []
    x, y = x0, y0 + row_h / 2
    for i, label in enumerate(labels):
        colour, dash, shape = _style(i)
        text = _clean(label)
        w = 34 + _width(text, font) + 20
        if x > x0 and x + w > x0 + max_width:
            x, y = x0, y + row_h
        items.append(
            _el(
                "g",
                {"class": "legend-item", "data-series": str(i)},
                _el("line", {"x1": _n(x), "y1": _n(y), "x2": _n(x + 28), "y2": _n(y), **_line_attrs(colour, dash)}),
                _marker(shape, x + 14, y, 4.0, colour, {}, None),
                _el("text", {"x": _n(x + 34), "y": _n(y + font * 0.35), "font-size": _n(font), "fill": DARK_TEXT}, text=text),
            )
        )
        x += w
    return _el("g", {"class": "legend"}, *items), (y - y0) + row_h / 2 + 4


def _runs(present: Sequence[bool], cyclic: bool) -> list[list[int]]:
    """Indices of consecutive present values; for a closed (cyclic) shape a run may wrap past the last index."""
    n = len(present)
    if not cyclic or all(present) or not any(present):
        order = list(range(n))
    else:
        first_gap = present.index(False)
        order = [(first_gap + 1 + k) % n for k in range(n)]
    runs: list[list[int]] = []
    cur: list[int] = []
    for i in order:
        if present[i]:
            cur.append(i)
        elif cur:
            runs.append(cur)
            cur = []
    if cur:
        runs.append(cur)
    return runs


# -- radar ----------------------------------------------------------------------------------------------------------


def radar(
    axes: Sequence[tuple[str, str]],
    series: Sequence[tuple[str, Mapping[str, float | None]]],
    *,
    title: str,
    max_value: float = 5.0,
    size: int = 520,
    lang: str = "sv",
) -> str:
    """Radar (spider) chart: one axis per (id, label) in ``axes`` (the five strategy headings), one closed polygon per
    (series label, {axis id: value}) — e.g. "2026", "2025", "Områdets median". Rings at 1..max_value with their numbers.
    A missing value (None or absent) is drawn as a gap: the polygon is not closed through it (draw the series as
    polyline segments between consecutive present points) and the point is marked 'saknas' in the <desc>."""
    axes = [(str(aid), str(label)) for aid, label in axes]
    series = [(str(label), values if isinstance(values, Mapping) else {}) for label, values in series]
    n = len(axes)
    maxv = _value(max_value)
    if maxv is None or maxv <= 0:
        maxv = 5.0
    size_f = float(max(200, int(size) if _value(size) is not None else 520))
    width = size_f
    title_el, top = _title_block(title, width)
    cx, cy = size_f / 2, top + size_f / 2
    radius = max(30.0, size_f / 2 - 95)
    body: list[str] = [title_el]
    w = _words(lang)
    desc: list[str] = [w["radar"].format(title=_clean(title), n=n, max=_level(maxv, lang))]

    angles = [math.radians(-90 + 360 * i / n) for i in range(n)] if n else []

    def at(i: int, r: float) -> tuple[float, float]:
        return cx + r * math.cos(angles[i]), cy + r * math.sin(angles[i])

    plot: list[str] = []
    ring_labels: list[str] = []
    # Rings with their numbers, drawn first so everything else lies on top.
    step = 1.0 if maxv <= 10 else float(math.ceil(maxv / 10))
    levels = [k * step for k in range(1, int(maxv / step + 1e-9) + 1)]
    if not levels or levels[-1] < maxv - 1e-9:
        levels.append(maxv)
    if n:
        for level in levels:
            r = radius * level / maxv
            ring_attrs = {"class": "ring", "data-level": _raw(level), "fill": "none", "stroke": "#d0d0d0", "stroke-width": "1"}
            if n >= 3:
                plot.append(_el("polygon", {"points": _points(at(i, r) for i in range(n)), **ring_attrs}))
            else:
                plot.append(_el("circle", {"cx": _n(cx), "cy": _n(cy), "r": _n(r), **ring_attrs}))
            # Drawn last (over the series) with a white halo so lines never hide the numbers.
            ring_labels.append(
                _el(
                    "text",
                    {"class": "ring-label", "data-level": _raw(level), "x": _n(cx + 4), "y": _n(cy - r - 3), "font-size": "11", "fill": MUTED_TEXT,
                     "stroke": "#ffffff", "stroke-width": "3", "stroke-linejoin": "round", "paint-order": "stroke"},
                    text=_level(level, lang),
                )
            )
        # Axes and their labels.
        label_font, lh = 13.0, 15.0
        for i, (aid, label) in enumerate(axes):
            x2, y2 = at(i, radius)
            plot.append(_el("line", {"class": "axis", "data-axis": aid, "x1": _n(cx), "y1": _n(cy), "x2": _n(x2), "y2": _n(y2), "stroke": "#999999", "stroke-width": "1"}))
            cos, sin = math.cos(angles[i]), math.sin(angles[i])
            lx, ly = at(i, radius + 14)
            if cos > 0.3:
                anchor = "start"
                avail = size_f - lx - 6
            elif cos < -0.3:
                anchor = "end"
                avail = lx - 6
            else:
                anchor = "middle"
                avail = 2 * min(lx, size_f - lx) - 12
            lines = _wrap(label, max(8, int(avail / (label_font * _CHAR_W))))
            if sin < -0.3:
                y0 = ly - (len(lines) - 1) * lh
            elif sin > 0.3:
                y0 = ly + label_font * 0.8
            else:
                y0 = ly + label_font * 0.35 - (len(lines) - 1) * lh / 2
            plot.append(_text(lines, lx, y0, lh, {"class": "axis-label", "data-axis": aid, "text-anchor": anchor, "font-size": _n(label_font), "fill": DARK_TEXT}))
    else:
        desc.append(w["no_axes"] + ".")
        plot.append(_el("text", {"class": "note", "x": _n(cx), "y": _n(cy), "text-anchor": "middle", "font-size": "14", "fill": MUTED_TEXT}, text=w["no_axes"]))
    if 0 < n < 3:
        note = w["few_axes"].format(n=n)
        desc.append(note)
        note_lines = _wrap(note, max(10, int((width - 32) / (12 * _CHAR_W))))
        plot.append(_text(note_lines, 16, top + 2, 14, {"class": "note", "font-size": "12", "fill": MUTED_TEXT}))

    # Series.
    if not series:
        desc.append(w["no_series"])
    for si, (slabel, mapping) in enumerate(series):
        colour, dash, shape = _style(si)
        vals = [_value(mapping.get(aid)) for aid, _ in axes]
        present = [v is not None for v in vals]
        parts: list[str] = []
        words: list[str] = []
        for i, (_aid, alabel) in enumerate(axes):
            v = vals[i]
            if v is None:
                words.append(f"{_clean(alabel)} {w['missing']}")
            else:
                outside = w["outside"] if v < 0 or v > maxv else ""
                words.append(f"{_clean(alabel)} {_sv(v, lang)}{outside}")
        desc.append(f"{_clean(slabel)}: " + ("; ".join(words) if words else w["no_values"]) + ".")
        if n:
            pts = [at(i, radius * _clamp(v, 0.0, maxv) / maxv) if v is not None else (0.0, 0.0) for i, v in enumerate(vals)]
            if n >= 3 and all(present):
                parts.append(_el("polygon", {"class": "series-line", "points": _points(pts), **_line_attrs(colour, dash)}))
            elif n >= 3:  # with fewer axes there is no shape to draw: points only, as the note says
                for run in _runs(present, cyclic=True):
                    if len(run) >= 2:
                        parts.append(_el("polyline", {"class": "series-line", "points": _points(pts[i] for i in run), **_line_attrs(colour, dash)}))
            for i, (aid, alabel) in enumerate(axes):
                v = vals[i]
                if v is None:
                    continue
                parts.append(
                    _marker(shape, pts[i][0], pts[i][1], 4.5, colour, {"class": "point", "data-axis": aid, "data-value": _raw(v)}, f"{_clean(slabel)}, {_clean(alabel)}: {_sv(v, lang)}")
                )
        missing = " ".join(aid for (aid, _), p in zip(axes, present, strict=True) if not p) or None
        plot.append(_el("g", {"class": "series", "data-series": str(si), "data-label": slabel, "data-missing": missing}, *parts))

    plot.extend(ring_labels)
    body.append(_el("g", {"class": "plot", "data-cx": _n(cx), "data-cy": _n(cy), "data-radius": _n(radius), "data-max": _raw(maxv)}, *plot))
    legend, legend_h = _series_legend([s for s, _ in series], 16, top + size_f + 4, width - 32)
    if legend:
        body.append(legend)
    height = top + size_f + 4 + legend_h + 12
    return _document(width, height, _clean(title), " ".join(desc), body, lang)


# -- trend ----------------------------------------------------------------------------------------------------------


def trend(
    years: Sequence[int],
    series: Sequence[tuple[str, Mapping[int, float | None]]],
    *,
    title: str,
    y_label: str | None = None,
    y_min: float = 1.0,
    y_max: float = 5.0,
    width: int = 720,
    height: int = 400,
    lang: str = "sv",
) -> str:
    """Line chart over years, one line per series (e.g. per heading). Missing years break the line (no interpolation
    across a gap). Axes with year ticks and y ticks at every integer; a marker at every present point with a <title>
    child giving 'series, year: value' so a browser shows a tooltip."""
    w_ = _words(lang)
    y_label = w_["level"] if y_label is None else y_label
    yrs = sorted({int(y) for y in years})
    series = [(str(label), values if isinstance(values, Mapping) else {}) for label, values in series]
    lo, hi = _scale_bounds(y_min, y_max, 1.0, 5.0)
    w = float(max(240, int(width) if _value(width) is not None else 720))
    h_req = float(max(160, int(height) if _value(height) is not None else 400))
    title_el, top = _title_block(title, w)
    left, right = 64.0, 24.0
    plot_w = w - left - right
    legend_probe, legend_h = _series_legend([s for s, _ in series], 16, 0, w - 32)
    plot_top = top + 8
    plot_h = max(120.0, h_req - plot_top - 34 - legend_h - 10)
    plot_bottom = plot_top + plot_h
    h = plot_top + plot_h + 34 + legend_h + 10

    body: list[str] = [title_el]
    span = f"{yrs[0]}–{yrs[-1]}" if len(yrs) > 1 else (str(yrs[0]) if yrs else w_["none"])
    desc: list[str] = [w_["trend"].format(title=_clean(title), span=span, label=_clean(y_label), lo=_level(lo, lang), hi=_level(hi, lang))]

    def xpos(year: int) -> float:
        if len(yrs) < 2:
            return left + plot_w / 2
        pad = 24.0
        return left + pad + (year - yrs[0]) / (yrs[-1] - yrs[0]) * (plot_w - 2 * pad)

    def ypos(v: float) -> float:
        return plot_bottom - (_clamp(v, lo, hi) - lo) / (hi - lo) * plot_h

    # Y grid and ticks at every integer (thinned to at most ~12 when the scale is wide).
    first, last = math.ceil(lo), math.floor(hi)
    tick_step = max(1, math.ceil((last - first + 1) / 12)) if last >= first else 1
    for k in range(first, last + 1, tick_step):
        y = ypos(k)
        body.append(_el("line", {"class": "grid", "data-value": str(k), "x1": _n(left), "y1": _n(y), "x2": _n(left + plot_w), "y2": _n(y), "stroke": "#e3e3e3", "stroke-width": "1"}))
        body.append(_el("text", {"class": "y-tick-label", "data-value": str(k), "x": _n(left - 8), "y": _n(y + 4.5), "text-anchor": "end", "font-size": "12", "fill": DARK_TEXT}, text=str(k)))
    # Axis lines and the y axis title.
    body.append(_el("line", {"class": "axis-line", "x1": _n(left), "y1": _n(plot_top), "x2": _n(left), "y2": _n(plot_bottom), "stroke": "#666666", "stroke-width": "1"}))
    body.append(_el("line", {"class": "axis-line", "x1": _n(left), "y1": _n(plot_bottom), "x2": _n(left + plot_w), "y2": _n(plot_bottom), "stroke": "#666666", "stroke-width": "1"}))
    ty = plot_top + plot_h / 2
    body.append(_el("text", {"class": "axis-title", "x": "18", "y": _n(ty), "transform": f"rotate(-90 18 {_n(ty)})", "text-anchor": "middle", "font-size": "13", "fill": DARK_TEXT}, text=_clean(y_label)))
    # Year ticks; labels thinned when they would overlap.
    label_every = max(1, math.ceil(len(yrs) * 40 / plot_w)) if yrs else 1
    for idx, year in enumerate(yrs):
        x = xpos(year)
        body.append(_el("line", {"class": "x-tick", "data-year": str(year), "x1": _n(x), "y1": _n(plot_bottom), "x2": _n(x), "y2": _n(plot_bottom + 5), "stroke": "#666666", "stroke-width": "1"}))
        if idx % label_every == 0 or idx == len(yrs) - 1:
            body.append(_el("text", {"class": "x-tick-label", "data-year": str(year), "x": _n(x), "y": _n(plot_bottom + 20), "text-anchor": "middle", "font-size": "12", "fill": DARK_TEXT}, text=str(year)))
    if not yrs:
        desc.append(w_["no_years"] + ".")
        body.append(_el("text", {"class": "note", "x": _n(left + plot_w / 2), "y": _n(plot_top + plot_h / 2), "text-anchor": "middle", "font-size": "14", "fill": MUTED_TEXT}, text=w_["no_years"]))
    if not series:
        desc.append(w_["no_series"])

    for si, (slabel, mapping) in enumerate(series):
        colour, dash, shape = _style(si)
        vals = [_value(mapping.get(year)) for year in yrs]
        present = [v is not None for v in vals]
        parts: list[str] = []
        for run in _runs(present, cyclic=False):
            if len(run) >= 2:
                pts = [(xpos(yrs[i]), ypos(vals[i])) for i in run]  # type: ignore[arg-type]
                parts.append(_el("polyline", {"class": "segment", "points": _points(pts), **_line_attrs(colour, dash)}))
        words: list[str] = []
        for year, v in zip(yrs, vals, strict=True):
            if v is None:
                words.append(f"{year} {w_['missing']}")
                continue
            outside = w_["outside"] if v < lo or v > hi else ""
            words.append(f"{year} {_sv(v, lang)}{outside}")
            parts.append(
                _marker(shape, xpos(year), ypos(v), 4.5, colour, {"class": "marker", "data-year": str(year), "data-value": _raw(v)}, f"{_clean(slabel)}, {year}: {_sv(v, lang)}")
            )
        desc.append(f"{_clean(slabel)}: " + ("; ".join(words) if words else w_["no_values"]) + ".")
        body.append(_el("g", {"class": "series", "data-series": str(si), "data-label": slabel}, *parts))

    if legend_probe:
        legend, _ = _series_legend([s for s, _ in series], 16, plot_bottom + 34, w - 32)
        body.append(legend)
    return _document(w, h, _clean(title), " ".join(desc), body, lang)


# -- heatmap --------------------------------------------------------------------------------------------------------


def _rgb(hex_colour: str) -> tuple[int, int, int]:
    return int(hex_colour[1:3], 16), int(hex_colour[3:5], 16), int(hex_colour[5:7], 16)


def _fill(v: float, lo: float, hi: float) -> str:
    t = (_clamp(v, lo, hi) - lo) / (hi - lo)
    pos = t * (len(SEQUENTIAL) - 1)
    i = min(int(pos), len(SEQUENTIAL) - 2)
    f = pos - i
    a, b = _rgb(SEQUENTIAL[i]), _rgb(SEQUENTIAL[i + 1])
    r, g, bl = (round(a[k] + (b[k] - a[k]) * f) for k in range(3))
    return f"#{r:02x}{g:02x}{bl:02x}"


def _luminance(hex_colour: str) -> float:
    def lin(c: int) -> float:
        s = c / 255
        return s / 12.92 if s <= 0.04045 else ((s + 0.055) / 1.055) ** 2.4

    r, g, b = _rgb(hex_colour)
    return 0.2126 * lin(r) + 0.7152 * lin(g) + 0.0722 * lin(b)


def _text_on(fill: str) -> str:
    """Dark or light text, whichever has the higher WCAG contrast ratio on the fill."""
    lum = _luminance(fill)
    dark = (lum + 0.05) / (_luminance(DARK_TEXT) + 0.05)
    light = (_luminance(LIGHT_TEXT) + 0.05) / (lum + 0.05)
    return LIGHT_TEXT if light > dark else DARK_TEXT


def heatmap(
    rows: Sequence[tuple[str, str]],
    columns: Sequence[tuple[str, str]],
    values: Mapping[tuple[str, str], float | None],
    *,
    title: str,
    suppressed: frozenset[tuple[str, str]] = frozenset(),
    min_value: float = 1.0,
    max_value: float = 5.0,
    cell: int = 56,
    lang: str = "sv",
) -> str:
    """Grid of rows (e.g. districts) × columns (headings): each cell coloured on a sequential colour-blind-safe scale
    (e.g. light yellow → dark blue), with its value printed (one decimal, Swedish decimal comma e.g. "3,4") in a text
    colour with enough contrast on that fill; a missing cell is light grey with "–" and a hatch or plain grey, a
    suppressed cell (key in ``suppressed``) shows ".." on grey. A legend shows the scale and the meaning of "–" and "..".
    Row labels left, column labels on top (wrap or rotate long labels)."""
    w = _words(lang)
    rows = [(str(rid), str(label)) for rid, label in rows]
    columns = [(str(cid), str(label)) for cid, label in columns]
    values = values if isinstance(values, Mapping) else {}
    hidden = {(str(r), str(c)) for r, c in suppressed} if suppressed else set()
    lo, hi = _scale_bounds(min_value, max_value, 1.0, 5.0)
    c = float(max(24, int(cell) if _value(cell) is not None else 56))
    font = min(14.0, max(9.0, c * 0.25))
    label_font, lh = 13.0, 15.0
    cos45 = math.sqrt(0.5)

    # Row labels on the left, wrapped.
    row_lines = [_wrap(label, 28) for _, label in rows]
    row_w = max((_width(line, label_font) for lines in row_lines for line in lines), default=0.0)
    left = 16 + min(row_w, 28 * label_font * _CHAR_W) + 10
    # Column labels rotated −45° above the grid, wrapped into at most a few short lines.
    col_lines = [_wrap(label, 24) for _, label in columns]
    header = 30.0
    right_edge = left + len(columns) * c
    for j, lines in enumerate(col_lines):
        lw = max(_width(line, label_font) for line in lines)
        header = max(header, lw * cos45 + len(lines) * lh * cos45 + 16)
        right_edge = max(right_edge, left + (j + 0.5) * c + lw * cos45 + len(lines) * lh * cos45)
    legend_w = 16 + 9 * 26 + 40
    legend_w2 = 16 + 2 * (22 + 8 + _width(w["legend_suppressed"], 12) + 24)
    width = max(right_edge + 16, legend_w, legend_w2, 240.0)
    title_el, top = _title_block(title, width)
    grid_top = top + header
    grid_bottom = grid_top + len(rows) * c

    body: list[str] = [title_el]
    desc: list[str] = [
        w["heatmap"].format(title=_clean(title), rows=len(rows), cols=len(columns), lo=_level(lo, lang), hi=_level(hi, lang), missing_mark=MISSING_MARK,
                            missing=w["missing"], suppressed_mark=SUPPRESSED_MARK, suppressed=w["suppressed"])
    ]
    if not rows or not columns:
        desc.append(w["no_data"] + ".")
        body.append(_el("text", {"class": "note", "x": "16", "y": _n(grid_top), "font-size": "14", "fill": MUTED_TEXT}, text=w["no_data"]))

    for j, (cid, _clabel) in enumerate(columns):
        x, y = left + (j + 0.5) * c, grid_top - 8
        lines = col_lines[j]
        y0 = y - (len(lines) - 1) * lh
        body.append(_text(lines, x, y0, lh, {"class": "col-label", "data-col": cid, "transform": f"rotate(-45 {_n(x)} {_n(y)})", "font-size": _n(label_font), "fill": DARK_TEXT}))

    cells: list[str] = []
    for i, (rid, rlabel) in enumerate(rows):
        y = grid_top + i * c
        lines = row_lines[i]
        body.append(_text(lines, left - 10, y + c / 2 + label_font * 0.35 - (len(lines) - 1) * lh / 2, lh, {"class": "row-label", "data-row": rid, "text-anchor": "end", "font-size": _n(label_font), "fill": DARK_TEXT}))
        words: list[str] = []
        for j, (cid, clabel) in enumerate(columns):
            x = left + j * c
            key = (rid, cid)
            where = f"{_clean(rlabel)}, {_clean(clabel)}"
            if key in hidden:
                status, fill, ink, mark, tip, v = "suppressed", SUPPRESSED_FILL, DARK_TEXT, SUPPRESSED_MARK, w["suppressed"], None
            else:
                v = _value(values.get(key))
                if v is None:
                    status, fill, ink, mark, tip = "missing", MISSING_FILL, MUTED_TEXT, MISSING_MARK, w["missing"]
                else:
                    status, fill = "shown", _fill(v, lo, hi)
                    ink, mark = _text_on(fill), _sv(v, lang)
                    tip = mark + (w["outside"] if v < lo or v > hi else "")
            words.append(f"{_clean(clabel)} {tip}")
            cells.append(
                _el(
                    "rect",
                    {"class": "cell", "data-row": rid, "data-col": cid, "data-status": status, "data-value": _raw(v) if v is not None else None,
                     "x": _n(x), "y": _n(y), "width": _n(c), "height": _n(c), "fill": fill, "stroke": "#ffffff", "stroke-width": "1"},
                    _el("title", None, text=f"{where}: {tip}"),
                )
            )
            cells.append(
                _el("text", {"class": "cell-label", "data-row": rid, "data-col": cid, "x": _n(x + c / 2), "y": _n(y + c / 2 + font * 0.35), "text-anchor": "middle",
                             "font-size": _n(font), "fill": ink, "pointer-events": "none"}, text=mark)
            )
        if columns:
            desc.append(f"{_clean(rlabel)}: " + "; ".join(words) + ".")
    body.extend(cells)

    # Legend: the colour scale in steps with its numbers, then the two symbols.
    ly = grid_bottom + 24
    legend: list[str] = [_el("text", {"x": "16", "y": _n(ly), "font-size": "12", "fill": DARK_TEXT}, text=w["scale"].format(lo=_level(lo, lang), hi=_level(hi, lang)))]
    steps, sw = 9, 26.0
    for k in range(steps):
        v = lo + (hi - lo) * k / (steps - 1)
        x = 16 + k * sw
        legend.append(_el("rect", {"class": "legend-swatch", "data-value": _raw(round(v, 6)), "x": _n(x), "y": _n(ly + 6), "width": _n(sw), "height": "14", "fill": _fill(v, lo, hi)}))
    tick_step = max(1, math.ceil((math.floor(hi) - math.ceil(lo) + 1) / 10))
    for k in range(math.ceil(lo), math.floor(hi) + 1, tick_step):
        x = 16 + (k - lo) / (hi - lo) * (steps - 1) * sw + sw / 2
        legend.append(_el("text", {"class": "legend-tick", "x": _n(x), "y": _n(ly + 34), "text-anchor": "middle", "font-size": "11", "fill": DARK_TEXT}, text=str(k)))
    sy = ly + 46
    x = 16.0
    for cls, fill, ink, mark, text in (
        ("legend-missing", MISSING_FILL, MUTED_TEXT, MISSING_MARK, w["legend_missing"]),
        ("legend-suppressed", SUPPRESSED_FILL, DARK_TEXT, SUPPRESSED_MARK, w["legend_suppressed"]),
    ):
        legend.append(_el("rect", {"class": cls, "x": _n(x), "y": _n(sy), "width": "22", "height": "18", "fill": fill, "stroke": "#999999", "stroke-width": "0.5"}))
        legend.append(_el("text", {"x": _n(x + 11), "y": _n(sy + 13), "text-anchor": "middle", "font-size": "12", "fill": ink}, text=mark))
        legend.append(_el("text", {"x": _n(x + 30), "y": _n(sy + 13), "font-size": "12", "fill": DARK_TEXT}, text=text))
        x += 30 + _width(text, 12) + 24
    body.append(_el("g", {"class": "legend"}, *legend))
    height = sy + 18 + 14
    return _document(width, height, _clean(title), " ".join(desc), body, lang)
