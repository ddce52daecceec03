"""Disclosure control for published figures: the one place where small groups are hidden.

Children's and staff's answers are personal data. A figure from fewer than
MIN_RESPONDENTS people, or a roll-up over fewer than MIN_SCHOOLS schools, could
point at individuals, so it is suppressed (primary suppression). A hidden value
must also not be recoverable as "published total minus the shown parts", so
further cells are hidden where totals are published (complementary suppression).
"Missing" (no data at all) is kept apart from zero and from suppressed, because
readers draw different conclusions from each.

Pure functions, no I/O: the API and exports call these and publish only their output.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum
from typing import Any, TypeVar

MIN_RESPONDENTS = 5
MIN_SCHOOLS = 3

COMPLEMENTARY = "complementary: would reveal a suppressed value"

K = TypeVar("K", bound=Hashable)
R = TypeVar("R", bound=Hashable)
C = TypeVar("C", bound=Hashable)


class Status(StrEnum):
    SHOWN = "shown"
    SUPPRESSED = "suppressed"
    MISSING = "missing"


@dataclass(frozen=True)
class Figure:
    """A value as it may be published; n stays here for later rules but as_json/csv_cell never publish it when hidden."""

    value: float | None
    n: int
    status: Status
    reason: str | None = None

    def __post_init__(self) -> None:
        # Guard against a hidden value travelling on inside the object and leaking in some later export.
        if self.n < 0:
            raise ValueError(f"n must not be negative, got {self.n}")
        if self.status is Status.SHOWN and self.value is None:
            raise ValueError("a shown figure needs a value")
        if self.status is not Status.SHOWN and self.value is not None:
            raise ValueError(f"a {self.status} figure must not carry a value")


Raw = tuple[float | None, int]


def figure(value: float | None, n: int, *, minimum: int = MIN_RESPONDENTS) -> Figure:
    """Primary rule: too few respondents and the value is dropped here, so it cannot leak further on."""
    if value is None:
        return Figure(None, n, Status.MISSING)
    if not math.isfinite(value):
        # NaN/inf means a computation went wrong; publishing "nan" would hide that as if it were data.
        raise ValueError(f"value must be finite, got {value!r}")
    if n < minimum:
        return Figure(None, n, Status.SUPPRESSED, f"fewer than {minimum} respondents")
    return Figure(float(value), n, Status.SHOWN)


def rollup(values: Sequence[float | None], *, minimum_parts: int = MIN_SCHOOLS) -> Figure:
    """District/city mean over schools; takes raw values because suppressed parts no longer carry theirs.

    Schools without data are left out rather than counted as zero; n is the number of schools behind the mean.
    """
    present = [v for v in values if v is not None]
    for v in present:
        if not math.isfinite(v):
            raise ValueError(f"value must be finite, got {v!r}")
    if not present:
        return Figure(None, 0, Status.MISSING)
    if len(present) < minimum_parts:
        return Figure(None, len(present), Status.SUPPRESSED, f"fewer than {minimum_parts} schools")
    return Figure(math.fsum(present) / len(present), len(present), Status.SHOWN)


def _hide(f: Figure) -> Figure:
    return Figure(None, f.n, Status.SUPPRESSED, COMPLEMENTARY)


def _as_figure(part: Figure | Raw, minimum: int) -> Figure:
    return part if isinstance(part, Figure) else figure(part[0], part[1], minimum=minimum)


def protect_group(
    parts: Mapping[K, Figure | Raw], total_published: bool, *, minimum: int = MIN_RESPONDENTS
) -> dict[K, Figure]:
    """Parts of one published total: a single hidden part would equal total minus the rest, so hide a second one.

    Raw (value, n) pairs go through the primary rule first; Figures (e.g. from rollup) are taken as they are.
    The second part is the shown part with the smallest n (least information lost), ties by str(key).
    Two hidden parts suffice in one dimension: only their sum can be derived.
    """
    out = {k: _as_figure(p, minimum) for k, p in parts.items()}
    if not total_published:
        return out
    suppressed = [k for k, f in out.items() if f.status is Status.SUPPRESSED]
    shown = [k for k, f in out.items() if f.status is Status.SHOWN]
    if len(suppressed) == 1 and shown:
        pick = min(shown, key=lambda k: (out[k].n, str(k)))
        out[pick] = _hide(out[pick])
    return out


# A vertex of the table graph: ("r", row key) or ("c", column key). Cells are edges between them.
_Vertex = tuple[str, Any]


def protect_table(
    cells: Mapping[tuple[R, C], Raw],
    *,
    row_totals: bool,
    column_totals: bool,
    minimum: int = MIN_RESPONDENTS,
) -> dict[tuple[R, C], Figure]:
    """A table with published row and/or column totals: hide enough cells that no hidden cell can be solved for.

    1. Primary rule per cell.
    2. Every row/column (whose totals are published) with exactly one hidden cell gets a second one: its shown
       cell with the smallest n, ties by str(key), preferring a cell whose crossing line also has exactly one
       hidden cell. Repeated until stable.
    3. With both row and column totals, "two per line" is not always enough: a hidden cell that links two
       otherwise separate groups of hidden cells (a bridge) equals sum of some row totals minus some column
       totals. Such a cell is put on a cycle of hidden cells by also hiding the cheapest path of shown cells
       between its row and column. Then back to 2.

    Only ever adds suppressions, so it terminates. Missing cells are never counted nor hidden.
    Not solved here (the totals themselves must be protected by the caller, e.g. through figure()): a line whose
    only non-missing cell is hidden, and a bridge with no path of non-missing cells around it; in both the
    published totals alone would reveal the cell.
    """
    out: dict[tuple[R, C], Figure] = {key: figure(v, n, minimum=minimum) for key, (v, n) in cells.items()}
    order = sorted(out, key=str)

    lines: list[list[tuple[R, C]]] = []
    if row_totals:
        by_row: dict[Any, list[tuple[R, C]]] = {}
        for key in order:
            by_row.setdefault(key[0], []).append(key)
        lines.extend(by_row[r] for r in sorted(by_row, key=str))
    if column_totals:
        by_col: dict[Any, list[tuple[R, C]]] = {}
        for key in order:
            by_col.setdefault(key[1], []).append(key)
        lines.extend(by_col[c] for c in sorted(by_col, key=str))

    while True:
        _two_per_line(out, lines)
        if not (row_totals and column_totals):
            return out
        if not _fix_one_bridge(out, order):
            return out


def _needs_one(out: dict[tuple[R, C], Figure], line: list[tuple[R, C]]) -> bool:
    hidden = sum(out[k].status is Status.SUPPRESSED for k in line)
    return hidden == 1 and any(out[k].status is Status.SHOWN for k in line)


def _two_per_line(out: dict[tuple[R, C], Figure], lines: list[list[tuple[R, C]]]) -> None:
    """Prefer a complement whose crossing line also needs one: one cell then settles two lines, hiding less."""
    lines_of: dict[tuple[R, C], list[int]] = {}
    for i, line in enumerate(lines):
        for k in line:
            lines_of.setdefault(k, []).append(i)
    changed = True
    while changed:
        changed = False
        for i, line in enumerate(lines):
            if not _needs_one(out, line):
                continue
            shown = [k for k in line if out[k].status is Status.SHOWN]

            def rank(k: tuple[R, C], i: int = i) -> tuple[bool, int, str]:  # this line's index
                closes_other = any(j != i and _needs_one(out, lines[j]) for j in lines_of[k])
                return (not closes_other, out[k].n, str(k))

            pick = min(shown, key=rank)
            out[pick] = _hide(out[pick])
            changed = True


def _connected(adj: dict[_Vertex, list[tuple[_Vertex, Any]]], start: _Vertex, goal: _Vertex, without: Any) -> bool:
    seen = {start}
    stack = [start]
    while stack:
        v = stack.pop()
        if v == goal:
            return True
        for w, key in adj.get(v, ()):
            if key != without and w not in seen:
                seen.add(w)
                stack.append(w)
    return False


def _fix_one_bridge(out: dict[tuple[R, C], Figure], order: list[tuple[R, C]]) -> bool:
    """Hide the path for the first fixable bridge; False when none is left that can be fixed."""
    hidden_adj: dict[_Vertex, list[tuple[_Vertex, Any]]] = {}
    full_adj: dict[_Vertex, list[tuple[_Vertex, Any]]] = {}
    for key in order:
        f = out[key]
        if f.status is Status.MISSING:
            continue
        r, c = ("r", key[0]), ("c", key[1])
        full_adj.setdefault(r, []).append((c, key))
        full_adj.setdefault(c, []).append((r, key))
        if f.status is Status.SUPPRESSED:
            hidden_adj.setdefault(r, []).append((c, key))
            hidden_adj.setdefault(c, []).append((r, key))

    for key in order:
        if out[key].status is not Status.SUPPRESSED:
            continue
        r, c = ("r", key[0]), ("c", key[1])
        if _connected(hidden_adj, r, c, without=key):
            continue
        path = _cheapest_path(out, full_adj, r, c, without=key)
        if path:
            for k in path:
                out[k] = _hide(out[k])
            return True
    return False


def _cheapest_path(
    out: dict[tuple[R, C], Figure],
    adj: dict[_Vertex, list[tuple[_Vertex, Any]]],
    start: _Vertex,
    goal: _Vertex,
    without: Any,
) -> list[tuple[R, C]]:
    """Shown cells to hide so start and goal are joined by hidden cells: fewest cells first, then smallest total n."""
    best: dict[_Vertex, tuple[int, int]] = {start: (0, 0)}
    prev: dict[_Vertex, tuple[_Vertex, Any]] = {}
    heap: list[tuple[int, int, str, _Vertex]] = [(0, 0, str(start), start)]
    done: set[_Vertex] = set()
    while heap:
        cells, total_n, _, v = heapq.heappop(heap)
        if v in done:
            continue
        done.add(v)
        if v == goal:
            break
        for w, key in sorted(adj.get(v, ()), key=lambda e: str(e[1])):
            if key == without or w in done:
                continue
            f = out[key]
            step = (0, 0) if f.status is Status.SUPPRESSED else (1, f.n)
            cost = (cells + step[0], total_n + step[1])
            if w not in best or cost < best[w]:
                best[w] = cost
                prev[w] = (v, key)
                heapq.heappush(heap, (cost[0], cost[1], str(w), w))
    if goal not in done:
        return []
    path: list[tuple[R, C]] = []
    v = goal
    while v != start:
        v, key = prev[v]
        if out[key].status is Status.SHOWN:
            path.append(key)
    return path


def as_json(f: Figure) -> dict[str, Any]:
    """n is given only for shown figures: a count under the threshold is itself a small-group disclosure."""
    shown = f.status is Status.SHOWN
    return {
        "value": f.value if shown else None,
        "n": f.n if shown else None,
        "status": str(f.status),
        "reason": f.reason,
    }


def csv_cell(f: Figure) -> str:
    """".." for suppressed (Kolada) and "." for missing (Skolverket), so readers never take either for zero."""
    if f.status is Status.SUPPRESSED:
        return ".."
    if f.status is Status.MISSING or f.value is None:
        return "."
    return format_number(f.value)


def format_number(value: float) -> str:
    """Up to two decimals, no trailing zeros; the decimal as written is rounded (2.675 -> 2.68), not its
    binary approximation (which would give 2.67)."""
    d = Decimal(repr(value)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    text = format(d, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text == "-0" else text
