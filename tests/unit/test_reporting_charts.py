"""SVG charts (services/reporting/charts.py): parseable, accessible, gaps for missing values, escaped labels."""

from __future__ import annotations

import math
import re
import xml.etree.ElementTree as ET

import pytest

from services.reporting.charts import LIGHT_TEXT, heatmap, radar, trend

NS = "{http://www.w3.org/2000/svg}"

AXES = [
    ("digkomp", "Digital kompetens"),
    ("likv", "Likvärdig tillgång"),
    ("larres", "Digitala lärresurser"),
    ("infra", "Infrastruktur och support"),
    ("ledn", "Ledning och uppföljning"),
]
NASTY = 'Skola <A> & "B"'


# -- helpers ---------------------------------------------------------------------------------------------------


def parse(svg: str) -> ET.Element:
    root = ET.fromstring(svg)
    assert root.tag == f"{NS}svg"
    children = list(root)
    assert children[0].tag == f"{NS}title"
    assert any(c.tag == f"{NS}desc" for c in children)
    assert root.get("role") == "img"
    assert root.get("viewBox") and root.get("width") and root.get("height")
    assert "sans-serif" in root.get("font-family", "")
    for el in root.iter():
        assert el.tag not in (f"{NS}script", f"{NS}foreignObject", f"{NS}image")
        assert not any(k.endswith("href") for k in el.attrib)
    return root


def by_class(root: ET.Element, cls: str) -> list[ET.Element]:
    return [el for el in root.iter() if el.get("class") == cls]


def label(el: ET.Element) -> str:
    """The text of a (possibly wrapped into tspans) label."""
    return " ".join(s.strip() for s in el.itertext() if s.strip())


def desc(root: ET.Element) -> str:
    return root.find(f"{NS}desc").text or ""


def series_groups(root: ET.Element) -> list[ET.Element]:
    return by_class(root, "series")


def point_xy(el: ET.Element) -> tuple[float, float]:
    if el.tag == f"{NS}circle":
        return float(el.get("cx")), float(el.get("cy"))
    pts = [tuple(map(float, p.split(","))) for p in el.get("points").split()]
    return sum(p[0] for p in pts) / len(pts), sum(p[1] for p in pts) / len(pts)


def tooltip(el: ET.Element) -> str:
    t = el.find(f"{NS}title")
    return t.text if t is not None else ""


# -- radar -----------------------------------------------------------------------------------------------------


def three_series() -> list[tuple[str, dict[str, float | None]]]:
    return [
        ("2026", {"digkomp": 5.0, "likv": 4.0, "larres": 2.5, "infra": 3.0, "ledn": 3.4}),
        ("2025", {"digkomp": 3.0, "likv": None, "larres": 2.0, "infra": 4.2, "ledn": 2.8}),
        ("Områdets median", {"digkomp": 2.9, "likv": 3.5, "larres": 3.1, "infra": 3.3, "ledn": 3.9}),
    ]


def test_radar_structure_axes_rings_and_series() -> None:
    root = parse(radar(AXES, three_series(), title="Självskattning"))
    groups = series_groups(root)
    assert [g.get("data-label") for g in groups] == ["2026", "2025", "Områdets median"]
    assert [label(t) for t in by_class(root, "axis-label")] == [lbl for _, lbl in AXES]
    assert [t.get("data-axis") for t in by_class(root, "axis-label")] == [aid for aid, _ in AXES]
    assert [label(t) for t in by_class(root, "ring-label")] == ["1", "2", "3", "4", "5"]
    assert len(by_class(root, "ring")) == 5
    # Complete series: one closed polygon each.
    for g in (groups[0], groups[2]):
        lines = by_class(g, "series-line")
        assert len(lines) == 1 and lines[0].tag == f"{NS}polygon"
        assert len(by_class(g, "point")) == 5
    # Series differ by colour and by dash pattern / marker shape.
    strokes = [by_class(g, "series-line")[0].get("stroke") for g in groups]
    dashes = [by_class(g, "series-line")[0].get("stroke-dasharray") for g in groups]
    shapes = [by_class(g, "point")[0].tag for g in groups]
    assert len(set(strokes)) == 3
    assert len(set(dashes)) == 3 or len(set(shapes)) == 3
    assert len(by_class(root, "legend-item")) == 3


def test_radar_missing_value_is_a_gap_and_said_in_desc() -> None:
    root = parse(radar(AXES, three_series(), title="Självskattning"))
    g = series_groups(root)[1]
    lines = by_class(g, "series-line")
    # Missing on axis 2 of 5: no closed polygon; the two neighbours are not joined through the gap.
    assert all(el.tag == f"{NS}polyline" for el in lines)
    assert len(lines) == 1  # runs larres→infra→ledn→digkomp (wrapping), i.e. open at likv
    assert len(lines[0].get("points").split()) == 4
    assert [p.get("data-axis") for p in by_class(g, "point")] == ["digkomp", "larres", "infra", "ledn"]
    assert g.get("data-missing") == "likv"
    assert "Likvärdig tillgång saknas" in desc(root)


def test_radar_gaps_split_the_line_into_runs() -> None:
    values = {"digkomp": 3.0, "likv": 3.0, "larres": None, "infra": 3.0, "ledn": None}
    root = parse(radar(AXES, [("2026", values)], title="t"))
    lines = by_class(series_groups(root)[0], "series-line")
    assert len(lines) == 1  # digkomp–likv; infra alone is only a marker
    values = {"digkomp": 3.0, "likv": None, "larres": 3.0, "infra": 3.0, "ledn": None}
    root = parse(radar(AXES, [("2026", values)], title="t"))
    # digkomp alone, larres–infra a segment
    assert [len(el.get("points").split()) for el in by_class(series_groups(root)[0], "series-line")] == [2]
    values = {"digkomp": 3.0, "likv": 3.0, "larres": None, "infra": 3.0, "ledn": 3.0}
    root = parse(radar(AXES, [("2026", values)], title="t"))
    lines = by_class(series_groups(root)[0], "series-line")
    # infra–ledn–digkomp–likv wraps around the top: one open polyline, not closed through larres
    assert len(lines) == 1 and lines[0].tag == f"{NS}polyline"
    assert len(lines[0].get("points").split()) == 4
    values6 = [(f"a{i}", f"Axel {i}") for i in range(6)]
    v6 = {"a0": 2.0, "a1": 2.0, "a2": None, "a3": 2.0, "a4": 2.0, "a5": None}
    root = parse(radar(values6, [("x", v6)], title="t"))
    lines = by_class(series_groups(root)[0], "series-line")
    assert len(lines) == 2 and all(el.tag == f"{NS}polyline" for el in lines)


def test_radar_geometry_of_a_known_point() -> None:
    root = parse(radar(AXES, three_series(), title="t", size=520))
    plot = by_class(root, "plot")[0]
    cx, cy, radius = (float(plot.get(k)) for k in ("data-cx", "data-cy", "data-radius"))
    assert radius > 50
    first = next(p for p in by_class(series_groups(root)[0], "point") if p.get("data-axis") == "digkomp")
    x, y = point_xy(first)
    # value 5 (the maximum) on the first axis, at −90°: straight above the centre at full radius
    assert abs(x - cx) <= 0.2 and abs(y - (cy - radius)) <= 0.2
    axis = by_class(root, "axis")[0]
    assert abs(float(axis.get("x2")) - x) <= 0.2 and abs(float(axis.get("y2")) - y) <= 0.2
    # value 2.5 on the third axis (−90° + 144°)
    third = next(p for p in by_class(series_groups(root)[0], "point") if p.get("data-axis") == "larres")
    ang = math.radians(-90 + 144)
    x, y = point_xy(third)
    assert abs(x - (cx + radius / 2 * math.cos(ang))) <= 0.2
    assert abs(y - (cy + radius / 2 * math.sin(ang))) <= 0.2
    assert tooltip(third) == "2026, Digitala lärresurser: 2,5"


def test_radar_clamps_for_drawing_but_shows_true_value() -> None:
    root = parse(radar(AXES, [("x", {"digkomp": 7.25, "likv": -1, "larres": 3, "infra": 3, "ledn": 3})], title="t"))
    plot = by_class(root, "plot")[0]
    cy, radius = float(plot.get("data-cy")), float(plot.get("data-radius"))
    p = by_class(root, "point")[0]
    assert abs(point_xy(p)[1] - (cy - radius)) <= 0.2
    assert tooltip(p).endswith("7,3")
    assert "7,3 (utanför skalan)" in desc(root)


@pytest.mark.parametrize("n_axes", [0, 1, 2, 3, 8])
def test_radar_any_number_of_axes(n_axes: int) -> None:
    axes = [(f"a{i}", f"Axel {i}") for i in range(n_axes)]
    svg = radar(axes, [("2026", {f"a{i}": 1 + i % 5 for i in range(n_axes)}), ("tom", {})], title="t")
    root = parse(svg)
    assert len(by_class(root, "axis-label")) == n_axes
    if n_axes < 3:
        assert "minst 3" in desc(root) or "Inga axlar" in desc(root)
        assert by_class(root, "note")
        assert not by_class(root, "series-line")
        assert len(by_class(root, "point")) == n_axes
    else:
        assert by_class(series_groups(root)[0], "series-line")[0].tag == f"{NS}polygon"
    assert not by_class(series_groups(root)[1], "point")


def test_radar_edge_cases() -> None:
    parse(radar(AXES, [], title="t"))
    root = parse(radar(AXES, [("x", {})], title="t"))
    assert not by_class(root, "series-line")
    assert desc(root).count("saknas") == 5
    parse(radar(AXES, [("x", {"digkomp": float("nan"), "likv": float("inf")})], title="t", max_value=0, size=10))
    parse(radar(AXES, [("x", {"digkomp": 40})], title="t", max_value=100))


# -- trend -----------------------------------------------------------------------------------------------------


def test_trend_middle_year_missing_breaks_the_line() -> None:
    svg = trend([2024, 2025, 2026], [("Digital kompetens", {2024: 2.0, 2025: None, 2026: 3.5})], title="Utveckling")
    root = parse(svg)
    g = series_groups(root)[0]
    assert by_class(g, "segment") == []  # two lone points: nothing to join without crossing the gap
    markers = by_class(g, "marker")
    assert [m.get("data-year") for m in markers] == ["2024", "2026"]
    assert tooltip(markers[1]) == "Digital kompetens, 2026: 3,5"
    assert "2025 saknas" in desc(root)
    assert [label(t) for t in by_class(root, "y-tick-label")] == ["1", "2", "3", "4", "5"]
    assert [label(t) for t in by_class(root, "x-tick-label")] == ["2024", "2025", "2026"]
    assert label(by_class(root, "axis-title")[0]) == "Nivå"


def test_trend_segments_split_at_gap() -> None:
    years = [2022, 2023, 2024, 2025, 2026]
    root = parse(trend(years, [("A", {2022: 1, 2023: 2, 2024: None, 2025: 3, 2026: 4}), ("B", {y: 3 for y in years})], title="t"))
    a, b = series_groups(root)
    assert [len(s.get("points").split()) for s in by_class(a, "segment")] == [2, 2]
    assert len(by_class(b, "segment")) == 1 and len(by_class(b, "marker")) == 5
    tips = [tooltip(m) for m in by_class(a, "marker")]
    assert any("2025" in t for t in tips)
    # Different series differ in colour and dash.
    sa, sb = by_class(a, "segment")[0], by_class(b, "segment")[0]
    assert sa.get("stroke") != sb.get("stroke")
    assert sa.get("stroke-dasharray") != sb.get("stroke-dasharray")


def test_trend_y_positions_and_clamping() -> None:
    root = parse(trend([2025, 2026], [("A", {2025: 1.0, 2026: 9.0}), ("B", {2025: 5.0, 2026: 3.0})], title="t"))
    a, b = series_groups(root)
    ya1 = point_xy(by_class(a, "marker")[0])[1]
    ya2 = point_xy(by_class(a, "marker")[1])[1]
    yb1 = point_xy(by_class(b, "marker")[0])[1]
    yb2 = point_xy(by_class(b, "marker")[1])[1]
    assert ya2 == pytest.approx(yb1, abs=0.6)  # 9 clamped to 5 (marker centroids differ slightly by shape)
    assert ya1 > yb2 > yb1  # SVG y grows downwards
    assert tooltip(by_class(a, "marker")[1]) == "A, 2026: 9,0"


def test_trend_edge_cases() -> None:
    root = parse(trend([2026], [("A", {2026: 3.0})], title="t"))
    assert len(by_class(root, "marker")) == 1 and not by_class(root, "segment")
    root = parse(trend([], [("A", {})], title="t"))
    assert by_class(root, "note")
    parse(trend([2024, 2025], [], title="t"))
    root = parse(trend([2024, 2025], [("A", {2024: None, 2025: None})], title="t"))
    assert not by_class(root, "marker")
    parse(trend([2024, 2025], [("A", {2024: 2})], title="t", y_min=5, y_max=1, width=10, height=10))
    parse(trend(list(range(1990, 2027)), [(f"S{i}", {y: (y % 5) + 1 for y in range(1990, 2027)}) for i in range(12)], title="t"))


# -- heatmap ---------------------------------------------------------------------------------------------------

ROWS = [("d1", "Norra distriktet"), ("d2", "Södra distriktet"), ("d3", "Centrum")]


def grid_values() -> dict[tuple[str, str], float | None]:
    vals: dict[tuple[str, str], float | None] = {}
    for i, (r, _) in enumerate(ROWS):
        for j, (c, _) in enumerate(AXES):
            vals[(r, c)] = 2.0 + 0.1 * (i + j)
    vals[("d1", "digkomp")] = 3.45
    vals[("d1", "likv")] = 1.0
    vals[("d1", "larres")] = 5.0
    vals[("d2", "infra")] = None
    del vals[("d2", "ledn")]
    vals[("d3", "larres")] = 4.9  # suppressed below: its value must not appear anywhere
    return vals


def heat() -> str:
    return heatmap(ROWS, AXES, grid_values(), title="Distrikt per område", suppressed=frozenset({("d3", "larres")}))


def cell(root: ET.Element, cls: str, r: str, c: str) -> ET.Element:
    return next(e for e in by_class(root, cls) if e.get("data-row") == r and e.get("data-col") == c)


def test_heatmap_cells_values_and_markers() -> None:
    root = parse(heat())
    cells = by_class(root, "cell")
    assert len(cells) == 15 and all(c.tag == f"{NS}rect" for c in cells)
    assert {(c.get("data-row"), c.get("data-col")) for c in cells} == {(r, c) for r, _ in ROWS for c, _ in AXES}
    assert label(cell(root, "cell-label", "d1", "digkomp")) == "3,5"
    assert cell(root, "cell", "d1", "digkomp").get("data-value") == "3.45"
    for r, c in (("d2", "infra"), ("d2", "ledn")):
        assert label(cell(root, "cell-label", r, c)) == "–"
        assert cell(root, "cell", r, c).get("data-status") == "missing"
    sup = cell(root, "cell", "d3", "larres")
    assert label(cell(root, "cell-label", "d3", "larres")) == ".."
    assert sup.get("data-status") == "suppressed" and sup.get("data-value") is None
    assert "4,9" not in ET.tostring(root, encoding="unicode")
    assert [label(t) for t in by_class(root, "row-label")] == [lbl for _, lbl in ROWS]
    assert [label(t) for t in by_class(root, "col-label")] == [lbl for _, lbl in AXES]
    legend = by_class(root, "legend")[0]
    legend_text = " ".join(legend.itertext())
    assert "–" in legend_text and ".." in legend_text and "saknas" in legend_text
    assert len(by_class(legend, "legend-swatch")) >= 5


def test_heatmap_colours_and_contrast() -> None:
    root = parse(heat())
    lo, hi = cell(root, "cell", "d1", "likv"), cell(root, "cell", "d1", "larres")
    assert lo.get("fill") != hi.get("fill")
    assert cell(root, "cell-label", "d1", "larres").get("fill") == LIGHT_TEXT
    assert cell(root, "cell-label", "d1", "likv").get("fill") != LIGHT_TEXT
    missing, sup = cell(root, "cell", "d2", "infra"), cell(root, "cell", "d3", "larres")
    assert missing.get("fill") != sup.get("fill")
    assert missing.get("fill") not in (lo.get("fill"), hi.get("fill"))
    # Out of scale: clamped colour, true value printed.
    root = parse(heatmap(ROWS[:1], AXES[:2], {("d1", "digkomp"): 6.26, ("d1", "likv"): 5.0}, title="t"))
    assert cell(root, "cell", "d1", "digkomp").get("fill") == cell(root, "cell", "d1", "likv").get("fill")
    assert label(cell(root, "cell-label", "d1", "digkomp")) == "6,3"


def test_heatmap_edge_cases() -> None:
    parse(heatmap([], [], {}, title="t"))
    parse(heatmap(ROWS, [], {}, title="t"))
    root = parse(heatmap(ROWS, AXES, {}, title="t", cell=5, min_value=3, max_value=3))
    assert {c.get("data-status") for c in by_class(root, "cell")} == {"missing"}
    long = [("x", "Ett mycket långt rubriknamn som inte får plats på en rad alls")]
    parse(heatmap(long * 2, long, {("x", "x"): 2}, title="t" * 300))


# -- escaping and determinism ---------------------------------------------------------------------------------


def test_caller_text_is_escaped_and_round_trips() -> None:
    axes = [("a", NASTY), ("b", "B"), ("c", "C")]
    root = parse(radar(axes, [(NASTY, {"a": 3})], title=NASTY))
    assert root.find(f"{NS}title").text == NASTY
    assert label(by_class(root, "axis-label")[0]) == NASTY
    assert series_groups(root)[0].get("data-label") == NASTY

    root = parse(trend([2025], [(NASTY, {2025: 3})], title=NASTY, y_label=NASTY))
    assert root.find(f"{NS}title").text == NASTY
    assert label(by_class(root, "axis-title")[0]) == NASTY
    assert tooltip(by_class(root, "marker")[0]) == f"{NASTY}, 2025: 3,0"
    assert label(by_class(root, "legend-item")[0]) == NASTY

    root = parse(heatmap([("r", NASTY)], [("c&<", NASTY)], {("r", "c&<"): 2}, title=NASTY))
    assert label(by_class(root, "row-label")[0]) == NASTY
    assert label(by_class(root, "col-label")[0]) == NASTY
    assert by_class(root, "cell")[0].get("data-col") == "c&<"
    # Characters XML cannot carry are dropped rather than breaking the document.
    parse(radar(axes, [("a\x00b\x1f", {})], title="x\x07y\n'z'"))


def test_output_is_deterministic() -> None:
    assert radar(AXES, three_series(), title="t") == radar(AXES, three_series(), title="t")
    years = [2024, 2025, 2026]
    s = [("A", {2024: 1.234, 2026: 4.56})]
    assert trend(years, s, title="t") == trend(list(reversed(years)), s, title="t")
    assert heat() == heat()


ONE_DECIMAL = re.compile(r"^-?\d+(\.\d)?$")


def test_coordinates_have_one_decimal() -> None:
    for svg in (radar(AXES, three_series(), title="t"), trend([2024, 2025], [("A", {2024: 1.23456})], title="t"), heat()):
        root = parse(svg)
        for el in root.iter():
            for key in ("x", "y", "cx", "cy", "x1", "y1", "x2", "y2"):
                v = el.get(key)
                if v is not None:
                    assert ONE_DECIMAL.match(v), (key, v)
            if el.get("points"):
                assert all(ONE_DECIMAL.match(n) for p in el.get("points").split() for n in p.split(","))
