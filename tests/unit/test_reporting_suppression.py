"""Disclosure control (services/reporting/suppression.py): small groups hidden, and not derivable from totals."""

from __future__ import annotations

import random
from collections.abc import Mapping
from fractions import Fraction
from typing import Any

import pytest

from services.reporting.suppression import (
    COMPLEMENTARY,
    MIN_RESPONDENTS,
    MIN_SCHOOLS,
    Figure,
    Status,
    as_json,
    csv_cell,
    figure,
    protect_group,
    protect_table,
    rollup,
)

# -- helpers ---------------------------------------------------------------------------------------------------


def suppressed(result: Mapping[Any, Figure]) -> set[Any]:
    return {k for k, f in result.items() if f.status is Status.SUPPRESSED}


def lines_with_one_hidden(result: Mapping[tuple[Any, Any], Figure], axis: int) -> list[Any]:
    """Rows (axis 0) or columns (axis 1) with exactly one hidden cell and another non-missing cell beside it."""
    groups: dict[Any, list[Figure]] = {}
    for key, f in result.items():
        groups.setdefault(key[axis], []).append(f)
    bad = []
    for line, figs in groups.items():
        present = [f for f in figs if f.status is not Status.MISSING]
        if len(present) >= 2 and sum(f.status is Status.SUPPRESSED for f in present) == 1:
            bad.append(line)
    return bad


def determined_cells(result: Mapping[tuple[Any, Any], Figure], *, rows: bool, cols: bool) -> set[Any]:
    """Hidden cells that published row/column totals pin down exactly (linear algebra, independent of the module).

    Unknowns are the hidden cells; each published line total is one equation over its hidden cells. A hidden
    cell is determined iff its pivot row in the reduced row echelon form has no free-variable entries.
    """
    hidden = sorted(suppressed(result), key=str)
    index = {k: i for i, k in enumerate(hidden)}
    equations: list[list[Fraction]] = []
    for axis, on in ((0, rows), (1, cols)):
        if not on:
            continue
        for line in {k[axis] for k in result}:
            eq = [Fraction(0)] * len(hidden)
            for k in hidden:
                if k[axis] == line:
                    eq[index[k]] = Fraction(1)
            if any(eq):
                equations.append(eq)
    pivots: list[tuple[int, int]] = []  # (equation row, column)
    m = [row[:] for row in equations]
    r = 0
    for col in range(len(hidden)):
        pivot = next((i for i in range(r, len(m)) if m[i][col] != 0), None)
        if pivot is None:
            continue
        m[r], m[pivot] = m[pivot], m[r]
        lead = m[r][col]
        m[r] = [x / lead for x in m[r]]
        for i in range(len(m)):
            if i != r and m[i][col] != 0:
                factor = m[i][col]
                m[i] = [a - factor * b for a, b in zip(m[i], m[r], strict=True)]
        pivots.append((r, col))
        r += 1
    pivot_cols = {c for _, c in pivots}
    free = [c for c in range(len(hidden)) if c not in pivot_cols]
    return {hidden[col] for row, col in pivots if all(m[row][f] == 0 for f in free)}


def random_table(rng: random.Random, *, missing: float) -> dict[tuple[str, str], tuple[float | None, int]]:
    rows = [f"school-{i}" for i in range(rng.randint(2, 6))]
    cols = [f"group-{j}" for j in range(rng.randint(2, 4))]
    cells: dict[tuple[str, str], tuple[float | None, int]] = {}
    for r in rows:
        for c in cols:
            n = rng.choice([0, 1, 2, 3, 4, 5, 6, 8, 12, 20, 35])
            value: float | None = None if rng.random() < missing else float(n)
            cells[(r, c)] = (value, n)
    return cells


# -- primary rule ----------------------------------------------------------------------------------------------


def test_four_respondents_are_suppressed_and_the_value_is_dropped() -> None:
    f = figure(3.2, 4)
    assert f.status is Status.SUPPRESSED and f.value is None and f.reason == "fewer than 5 respondents"


def test_five_respondents_are_shown() -> None:
    assert figure(3.2, MIN_RESPONDENTS) == Figure(3.2, 5, Status.SHOWN)


def test_zero_with_enough_respondents_is_a_shown_zero_not_missing() -> None:
    f = figure(0.0, 10)
    assert f.status is Status.SHOWN and f.value == 0.0 and csv_cell(f) == "0"


def test_no_value_is_missing_even_with_respondents() -> None:
    f = figure(None, 10)
    assert f.status is Status.MISSING and f.value is None and f.n == 10 and f.reason is None


def test_no_value_and_few_respondents_is_missing_not_suppressed() -> None:
    assert figure(None, 2).status is Status.MISSING


def test_non_finite_values_are_refused() -> None:
    with pytest.raises(ValueError):
        figure(float("nan"), 10)


def test_a_figure_cannot_be_built_carrying_a_hidden_value() -> None:
    with pytest.raises(ValueError):
        Figure(3.0, 2, Status.SUPPRESSED)


def test_custom_minimum() -> None:
    assert figure(1.0, 9, minimum=10).status is Status.SUPPRESSED
    assert figure(1.0, 10, minimum=10).status is Status.SHOWN


# -- as_json and csv_cell --------------------------------------------------------------------------------------


def test_suppressed_json_carries_neither_value_nor_n() -> None:
    out = as_json(figure(4.7, 3))
    assert out == {"value": None, "n": None, "status": "suppressed", "reason": "fewer than 5 respondents"}


def test_complementary_json_carries_neither_value_nor_n() -> None:
    result = protect_group({"a": (4.0, 2), "b": (3.0, 7), "c": (2.0, 9)}, total_published=True)
    out = as_json(result["b"])
    assert out["value"] is None and out["n"] is None and out["reason"] == COMPLEMENTARY


def test_shown_json_carries_value_and_n() -> None:
    assert as_json(figure(2.5, 12)) == {"value": 2.5, "n": 12, "status": "shown", "reason": None}


def test_missing_json_has_no_n() -> None:
    assert as_json(figure(None, 0)) == {"value": None, "n": None, "status": "missing", "reason": None}


@pytest.mark.parametrize(
    ("value", "text"),
    [(3.0, "3"), (2.5, "2.5"), (2.345, "2.35"), (2.675, "2.68"), (2.0049, "2"), (10.10, "10.1"), (1234567.0, "1234567"), (-0.001, "0")],
)
def test_csv_cell_formats_numbers(value: float, text: str) -> None:
    assert csv_cell(figure(value, 20)) == text


def test_csv_cell_marks_suppressed_and_missing_differently() -> None:
    assert csv_cell(figure(3.0, 1)) == ".."
    assert csv_cell(figure(None, 20)) == "."


# -- roll-ups --------------------------------------------------------------------------------------------------


def test_rollup_of_two_schools_is_suppressed() -> None:
    f = rollup([2.0, 3.0])
    assert f.status is Status.SUPPRESSED and f.value is None and f.n == 2 and f.reason == "fewer than 3 schools"


def test_rollup_of_three_schools_is_their_mean() -> None:
    f = rollup([2.0, 3.0, 4.0])
    assert f.status is Status.SHOWN and f.value == pytest.approx(3.0) and f.n == MIN_SCHOOLS


def test_rollup_ignores_schools_without_data() -> None:
    assert rollup([2.0, None, 4.0, None]).status is Status.SUPPRESSED
    f = rollup([2.0, None, 4.0, 0.0])
    assert f.status is Status.SHOWN and f.n == 3 and f.value == pytest.approx(2.0)


def test_rollup_without_any_data_is_missing() -> None:
    assert rollup([None, None]) == Figure(None, 0, Status.MISSING)
    assert rollup([]).status is Status.MISSING


# -- protect_group ---------------------------------------------------------------------------------------------


def test_one_suppressed_part_takes_the_smallest_shown_part_with_it() -> None:
    result = protect_group({"a": (3.1, 3), "b": (2.9, 40), "c": (3.4, 6), "d": (2.2, 9)}, total_published=True)
    assert suppressed(result) == {"a", "c"}
    assert result["a"].reason == "fewer than 5 respondents" and result["c"].reason == COMPLEMENTARY
    assert result["b"].value == 2.9 and result["d"].value == 2.2


def test_group_tie_on_n_is_broken_by_key() -> None:
    result = protect_group({"z": (1.0, 7), "a": (1.0, 2), "m": (1.0, 7), "b": (1.0, 7)}, total_published=True)
    assert suppressed(result) == {"a", "b"}


def test_group_without_suppression_is_untouched() -> None:
    parts = {"a": (3.1, 5), "b": (2.9, 40)}
    result = protect_group(parts, total_published=True)
    assert all(f.status is Status.SHOWN for f in result.values())


def test_group_with_two_suppressed_needs_nothing_more() -> None:
    result = protect_group({"a": (1.0, 2), "b": (1.0, 3), "c": (1.0, 8)}, total_published=True)
    assert suppressed(result) == {"a", "b"}


def test_group_without_published_total_gets_only_the_primary_rule() -> None:
    result = protect_group({"a": (3.1, 3), "b": (2.9, 40), "c": (3.4, 6)}, total_published=False)
    assert suppressed(result) == {"a"}


def test_group_missing_parts_are_neither_counted_nor_suppressed() -> None:
    result = protect_group({"a": (3.1, 3), "b": (None, 0), "c": (3.4, 60)}, total_published=True)
    assert result["b"].status is Status.MISSING
    assert suppressed(result) == {"a", "c"}


def test_group_accepts_rollup_figures() -> None:
    districts = {"north": rollup([1.0, 2.0]), "south": rollup([2.0, 2.0, 3.0]), "west": rollup([1.0, 1.0, 1.0, 4.0])}
    result = protect_group(districts, total_published=True)
    assert suppressed(result) == {"north", "south"}


@pytest.mark.parametrize("seed", range(5))
def test_published_group_total_never_isolates_one_hidden_part(seed: int) -> None:
    rng = random.Random(seed)
    for _ in range(100):
        size = rng.randint(1, 7)
        parts: dict[str, tuple[float | None, int]] = {}
        for i in range(size):
            n = rng.randint(0, 12)
            parts[f"p{i}"] = (None if rng.random() < 0.2 else rng.uniform(1, 4), n)
        result = protect_group(parts, total_published=True)
        present = [f for f in result.values() if f.status is not Status.MISSING]
        hidden = [f for f in present if f.status is Status.SUPPRESSED]
        if len(present) >= 2:
            assert len(hidden) != 1, parts
        primary = {k for k, (v, n) in parts.items() if v is not None and n < MIN_RESPONDENTS}
        assert primary <= suppressed(result)
        assert len(suppressed(result) - primary) <= 1


# -- protect_table ---------------------------------------------------------------------------------------------


def crafted_table() -> dict[tuple[str, str], tuple[float | None, int]]:
    return {
        ("A", "x"): (2.0, 2), ("A", "y"): (30.0, 30), ("A", "z"): (12.0, 12),
        ("B", "x"): (40.0, 40), ("B", "y"): (25.0, 25), ("B", "z"): (9.0, 9),
        ("C", "x"): (15.0, 15), ("C", "y"): (8.0, 8), ("C", "z"): (50.0, 50),
    }  # fmt: skip


def test_one_small_cell_in_a_3x3_table_hides_a_rectangle() -> None:
    result = protect_table(crafted_table(), row_totals=True, column_totals=True)
    hidden = suppressed(result)
    assert ("A", "x") in hidden and len(hidden) >= 4
    assert lines_with_one_hidden(result, 0) == [] and lines_with_one_hidden(result, 1) == []
    # Four cells on two rows and two columns: a rectangle through the small cell, nothing more.
    assert len(hidden) == 4 and len({r for r, _ in hidden}) == 2 and len({c for _, c in hidden}) == 2
    # Row A takes z (12, smaller than y), column x takes C (15); column z then prefers C over B (9), closing row C too.
    assert hidden == {("A", "x"), ("A", "z"), ("C", "x"), ("C", "z")}
    assert determined_cells(result, rows=True, cols=True) == set()
    assert all(result[k].reason == COMPLEMENTARY for k in hidden - {("A", "x")})


def test_table_with_only_row_totals_protects_rows_only() -> None:
    result = protect_table(crafted_table(), row_totals=True, column_totals=False)
    assert suppressed(result) == {("A", "x"), ("A", "z")}


def test_table_with_no_totals_is_primary_only() -> None:
    result = protect_table(crafted_table(), row_totals=False, column_totals=False)
    assert suppressed(result) == {("A", "x")}


def test_table_is_deterministic() -> None:
    cells = random_table(random.Random(7), missing=0.1)
    first = protect_table(cells, row_totals=True, column_totals=True)
    again = protect_table(dict(reversed(list(cells.items()))), row_totals=True, column_totals=True)
    assert first == again


def test_table_missing_cells_are_never_suppressed() -> None:
    cells = crafted_table() | {("A", "z"): (None, 0), ("C", "x"): (None, 0)}
    result = protect_table(cells, row_totals=True, column_totals=True)
    assert result[("A", "z")].status is Status.MISSING and result[("C", "x")].status is Status.MISSING
    assert lines_with_one_hidden(result, 0) == [] and lines_with_one_hidden(result, 1) == []


def test_table_suppression_cascades_and_terminates() -> None:
    # A diagonal of small cells: every complement lands in a new row/column and drags another one in.
    size = 6
    cells = {
        (f"r{i}", f"c{j}"): (float(n), n)
        for i in range(size)
        for j in range(size)
        for n in [1 if i == j else 5 + (i * 7 + j * 3) % 11]
    }
    result = protect_table(cells, row_totals=True, column_totals=True)
    assert lines_with_one_hidden(result, 0) == [] and lines_with_one_hidden(result, 1) == []
    assert determined_cells(result, rows=True, cols=True) == set()


def test_bridge_between_two_hidden_rectangles_is_closed() -> None:
    # Two rectangles of small cells joined by one more small cell: every line has >= 2 hidden, yet the joining
    # cell equals (rows r0+r1 totals) - (columns c0+c1 totals) minus shown cells. It must be put on a cycle.
    small = {("r0", "c0"), ("r0", "c1"), ("r1", "c0"), ("r1", "c1"),
             ("r2", "c2"), ("r2", "c3"), ("r3", "c2"), ("r3", "c3"), ("r0", "c2")}  # fmt: skip
    cells = {(f"r{i}", f"c{j}"): ((2.0, 2) if (f"r{i}", f"c{j}") in small else (20.0, 20)) for i in range(4) for j in range(4)}
    assert lines_with_one_hidden({k: figure(*v) for k, v in cells.items()}, 0) == []
    assert determined_cells({k: figure(*v) for k, v in cells.items()}, rows=True, cols=True) == {("r0", "c2")}
    result = protect_table(cells, row_totals=True, column_totals=True)
    assert determined_cells(result, rows=True, cols=True) == set()
    assert len(suppressed(result)) == len(small) + 1


@pytest.mark.parametrize("seed", range(5))
def test_random_tables_never_leave_one_hidden_cell_in_a_line(seed: int) -> None:
    rng = random.Random(1000 + seed)
    for _ in range(100):
        cells = random_table(rng, missing=0.15)
        rows, cols = rng.choice([(True, True), (True, False), (False, True)])
        result = protect_table(cells, row_totals=rows, column_totals=cols)
        primary = {k for k, (v, n) in cells.items() if v is not None and n < MIN_RESPONDENTS}
        assert primary <= suppressed(result)
        assert all(result[k].status is Status.MISSING for k, (v, _) in cells.items() if v is None)
        if rows:
            assert lines_with_one_hidden(result, 0) == [], cells
        if cols:
            assert lines_with_one_hidden(result, 1) == [], cells


@pytest.mark.parametrize("seed", range(5))
def test_random_complete_tables_leave_no_hidden_cell_solvable(seed: int) -> None:
    # Without missing cells every hidden cell can be put on a cycle, so no total combination pins one down.
    rng = random.Random(2000 + seed)
    for _ in range(100):
        cells = random_table(rng, missing=0.0)
        rows, cols = rng.choice([(True, True), (True, False), (False, True)])
        result = protect_table(cells, row_totals=rows, column_totals=cols)
        hidden = suppressed(result)
        if hidden == set(cells):
            continue
        assert determined_cells(result, rows=rows, cols=cols) == set(), cells
