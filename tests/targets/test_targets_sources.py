"""Every target traced to its source: a clause quoted from a plan, a standard, or advisory.

The first tests need only the shipped catalogue. The last one reads the seed
plans' text (skipped when it is not available) and checks that every clause of a
``plan`` target is quoted verbatim from a plan the target cites.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from access.targets import PROFILES, TIERS, load_catalogue

PLAN_KEYS = ("000", "001", "002", "003", "004")
_HERE = Path(__file__).resolve()
_CANDIDATES = [Path(os.environ["LIFECIRCLE_SEEDS_DIR"])] if "LIFECIRCLE_SEEDS_DIR" in os.environ \
    else [p / "shared" / "seeds" for p in _HERE.parents[2:5]]
SEEDS = next((p for p in _CANDIDATES if p.is_dir()), None)

_PUNCT = str.maketrans({"(": "（", ")": "）", ",": "，", ":": "：", ";": "；", "-": "—",
                        "–": "—"})


def _norm(text: str) -> str:
    return re.sub(r"\s+", "", text).translate(_PUNCT)


def _phrases(clause: str) -> list[str]:
    """The quoted phrases of a clause: split at '；', a trailing （note） removed."""
    out = []
    for part in _norm(clause).split("；"):
        part = re.sub(r"（[^（）]*）$", "", part)
        if part:
            out.append(part)
    return out


def all_targets():
    """(profile, target) for the catalogue and every shipped profile."""
    out = [("catalogue", t) for t in load_catalogue()]
    for p in PROFILES:
        out += [(p, t) for t in load_catalogue(profile=p)]
    return out


@pytest.mark.parametrize(("profile", "target"), all_targets(),
                         ids=lambda v: v if isinstance(v, str) else v.id)
def test_every_target_has_a_clause_or_is_advisory(profile, target):
    assert target.tier in TIERS
    assert target.source
    if target.tier != "advisory":
        assert target.clause.strip(), f"{profile}/{target.id} has no clause"
    if target.tier == "plan":
        assert set(target.source) & set(PLAN_KEYS), \
            f"{profile}/{target.id} is a plan target citing no plan"


def test_unconfirmed_targets_are_advisory():
    for profile, t in all_targets():
        if t.confidence == "M" and t.tier == "plan":
            pytest.fail(f"{profile}/{t.id}: confidence M in the plan group")


def test_zhengzhou_30k_rule_is_advisory_and_apart():
    z = {t.id: t for t in load_catalogue(profile="zhengzhou")}
    assert z["kindergarten_township_30k"].tier == "advisory"
    assert z["kindergarten_township_30k"].min_count_rules == (("total", 30000.0, 2),)
    assert z["kindergarten_township"].min_count_rules == ()
    assert z["kindergarten_township"].tier == "standard"


@pytest.mark.skipif(SEEDS is None, reason="the seed plans' text is not available")
def test_plan_clauses_are_quoted_from_the_cited_plans():
    texts = {f.name[:3]: _norm(f.read_text(encoding="utf-8")) for f in SEEDS.glob("*.txt")}
    assert set(PLAN_KEYS) <= set(texts)
    missing = []
    for profile, t in all_targets():
        if t.tier != "plan":
            continue
        cited = [k for k in t.source if k in texts]
        for phrase in _phrases(t.clause):
            if not any(phrase in texts[k] for k in cited):
                missing.append(f"{profile}/{t.id}: {phrase!r} not in {cited}")
    assert not missing, "\n".join(missing)
