"""Network cache integrity: a bad entry is rebuilt with a warning, never used, never fatal."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from access import network as network_mod
from access.network import StreetNetwork, load_network
from lifecircle.pipeline import run
from lifecircle.study_area import default_area_path, load_study_area

ARRAYS = ("node_id", "x", "y", "lon", "lat", "indptr", "indices", "length_m", "time_s",
          "ground")


@pytest.fixture(scope="module")
def clean(sample_osm: Path) -> dict[str, StreetNetwork]:
    crs = load_network(sample_osm, use_cache=False).crs
    return {m: load_network(sample_osm, m, crs=crs, use_cache=False) for m in ("walk", "drive")}


def assert_same(a: StreetNetwork, b: StreetNetwork) -> None:
    assert (a.mode, a.crs, a.source_sha256) == (b.mode, b.crs, b.source_sha256)
    for name in ARRAYS:
        va, vb = getattr(a, name), getattr(b, name)
        if va is None or vb is None:
            assert va is None, name
            assert vb is None, name
        else:
            np.testing.assert_array_equal(va, vb, err_msg=name)


def the_entry(cache: Path) -> Path:
    entries = list(cache.glob("network-*.npz"))
    assert len(entries) == 1, entries
    return entries[0]


def scale_lengths(entry: Path, cache: Path, clean: dict[str, StreetNetwork]) -> None:
    # a whole, valid archive, same metadata, lengths scaled by 0.1
    with np.load(entry) as z:
        data = {k: z[k] for k in z.files}
    data["length_m"] = data["length_m"] * 0.1
    np.savez(entry, **data)


def wrong_mode(entry: Path, cache: Path, clean: dict[str, StreetNetwork]) -> None:
    # the drive graph stored under the walk graph's key
    network_mod._save(clean["drive"], entry)


def truncate(entry: Path, cache: Path, clean: dict[str, StreetNetwork]) -> None:
    raw = entry.read_bytes()
    entry.write_bytes(raw[: len(raw) // 2])


def bad_crc(entry: Path, cache: Path, clean: dict[str, StreetNetwork]) -> None:
    raw = bytearray(entry.read_bytes())
    pos = raw.find(b"length_m.npy")
    assert pos > 0
    raw[pos + 400] ^= 0xFF  # inside the stored array data
    entry.write_bytes(bytes(raw))


def empty(entry: Path, cache: Path, clean: dict[str, StreetNetwork]) -> None:
    entry.write_bytes(b"")


@pytest.mark.parametrize("corrupt", [scale_lengths, wrong_mode, truncate, bad_crc, empty])
def test_bad_entry_is_rebuilt_with_warning(
        corrupt: Callable[[Path, Path, dict[str, StreetNetwork]], None], cache: Path,
        sample_osm: Path, clean: dict[str, StreetNetwork],
        caplog: pytest.LogCaptureFixture) -> None:
    crs = clean["walk"].crs
    assert_same(load_network(sample_osm, "walk", crs=crs), clean["walk"])  # writes the entry
    entry = the_entry(cache)
    corrupt(entry, cache, clean)

    with caplog.at_level(logging.WARNING, logger="access.network"):
        again = load_network(sample_osm, "walk", crs=crs)
    assert_same(again, clean["walk"])
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "不可用" in warnings[0].getMessage()  # Chinese unless --lang en
    assert "正在重建" in warnings[0].getMessage()
    assert "not usable" in warnings[0].msg.text("en")
    assert "rebuilding" in warnings[0].msg.text("en")

    # the entry was rewritten whole: the next load uses it, silently
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="access.network"):
        assert_same(load_network(sample_osm, "walk", crs=crs), clean["walk"])
    assert not caplog.records
    assert the_entry(cache) == entry
    assert not list(cache.glob(".*tmp*"))  # no temporary files left behind


def test_entry_records_its_key(cache: Path, sample_osm: Path,
                               clean: dict[str, StreetNetwork]) -> None:
    load_network(sample_osm, "drive", crs=clean["walk"].crs)
    with np.load(the_entry(cache)) as z:
        meta = json.loads(str(z["meta"]))
    assert meta["key"]["mode"] == "drive"
    assert meta["key"]["source_sha256"] == clean["drive"].source_sha256
    assert meta["key"]["cache_version"] == network_mod.CACHE_VERSION
    assert len(meta["arrays_sha256"]) == 64


def test_scaled_cache_does_not_change_results(cache: Path,
                                              caplog: pytest.LogCaptureFixture) -> None:
    """Whole runs: a tampered cache gives the same figures as a clean run."""
    area = load_study_area(default_area_path())
    first = run(area)  # builds and writes one entry per travel mode the run needs
    entries = sorted(cache.glob("network-*.npz"))
    assert len(entries) == len(first.networks) >= 2
    for entry in entries:  # valid archives, same metadata, every length scaled by 0.1
        with np.load(entry) as z:
            data = {k: z[k] for k in z.files}
        data["length_m"] = data["length_m"] * 0.1
        np.savez(entry, **data)
    with caplog.at_level(logging.WARNING, logger="access.network"):
        again = run(area)
    assert sum("不可用" in r.getMessage() for r in caplog.records) == len(entries)
    pd.testing.assert_frame_equal(again.cells, first.cells)
    pd.testing.assert_frame_equal(again.targets.targets, first.targets.targets)
