"""The per-run context: cells' unit codes and settlement classes, worked out per
distinct unit, equal a per-cell conversion (the oracle), and can be prepared ahead."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from access.targets import TargetInputs, prepare_targets
from access.targets.context import Context, unit_ids

# unit ids as a planner's files give them: codes as numbers, stray spaces, gaps
RAW = [410225100.0, " 410225101", "410225100", None, float("nan"), "", "A2", "A1 ",
       410225101, pd.NA, "A2"]
SETTLE = {"410225100": "urban", "410225101": "town", "A1": "village", "A2": " village "}


def _cells(values: list, dtype: object = object) -> pd.DataFrame:
    rng = np.random.default_rng(7)
    pick = rng.integers(0, len(values), 400)
    col = pd.Series([values[i] for i in pick], dtype=dtype)
    n = len(col)
    return pd.DataFrame({"cell_id": np.arange(n), "row": np.zeros(n, int),
                         "col": np.arange(n), "x": np.arange(n, dtype=float),
                         "y": np.zeros(n), "area_m2": np.full(n, 1e4),
                         "unit__township": col, "unit__district": "D1"})


def _units() -> dict[str, pd.DataFrame]:
    return {"township": pd.DataFrame({"unit_id": list(SETTLE), "name": list(SETTLE),
                                      "settlement": list(SETTLE.values())})}


def _oracle_codes(values: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    ids = pd.Series(unit_ids(list(values.astype(object))), dtype=object)
    code, uniq = pd.factorize(ids, sort=True, use_na_sentinel=True)
    return code.astype(np.int64), np.asarray(uniq, dtype=object)


@pytest.mark.parametrize("dtype", [object, "string"])
def test_unit_codes_and_settlement_equal_the_per_cell_conversion(dtype: object) -> None:
    values = RAW if dtype is object else [None if v is None or v is pd.NA or (
        isinstance(v, float) and np.isnan(v)) else str(v) for v in RAW]
    cells = _cells(values, dtype)
    ctx = Context(TargetInputs(cells=cells, facilities=pd.DataFrame({"category": []}),
                               units=_units()))
    for level in ("township", "district"):
        code, ids = ctx.cell_units(level)
        want_code, want_ids = _oracle_codes(cells[f"unit__{level}"])
        np.testing.assert_array_equal(code, want_code)
        assert list(ids) == list(want_ids)
    # settlement: the units table's class of each cell's unit, None without one
    mapping = {u: s.strip() for u, s in SETTLE.items()}
    want = [mapping.get(u) if u is not None else None
            for u in unit_ids(list(cells["unit__township"].astype(object)))]
    assert ctx.settlement_known
    assert list(ctx.settlement) == want
    assert ctx.settlement_note is not None
    assert ctx.settlement_note[1].startswith(f"{sum(v is None for v in want)} cells")
    assert unit_ids(cells["unit__township"]) == \
        unit_ids(list(cells["unit__township"].astype(object)))


def test_a_bad_settlement_class_is_named() -> None:
    cells = _cells(["410225100", "X"]).assign(settlement=["urban", "suburb"] * 200)
    with pytest.raises(ValueError, match="suburb"):
        Context(TargetInputs(cells=cells, facilities=pd.DataFrame({"category": []})))


def test_prepared_work_is_what_an_evaluation_would_work_out() -> None:
    cells = _cells(RAW)
    fac = pd.DataFrame({"category": []})
    shared: dict = {}
    prepare_targets(TargetInputs(cells=cells, facilities=fac, units=_units(), shared=shared))
    assert set(shared["cell_units"]) == {"township", "district"}
    fresh = Context(TargetInputs(cells=cells, facilities=fac, units=_units()))
    settled = shared["settlement"]
    assert settled[0]
    assert list(settled[1]) == list(fresh.settlement)
    for level, (code, ids) in shared["cell_units"].items():
        want_code, want_ids = fresh.cell_units(level)
        np.testing.assert_array_equal(code, want_code)
        assert list(ids) == list(want_ids)
    code, classes = shared["settlement_codes"]
    assert [classes[c] if c >= 0 else None for c in code] == list(fresh.settlement)
    # nothing to keep it in: nothing is done
    prepare_targets(TargetInputs(cells=cells, facilities=fac, units=_units()))
