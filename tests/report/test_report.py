"""Run history, comparison and the coverage report, on two real runs of the sample.

The second run adds one kindergarten (a table source placed in the largest gap of
the first run's kindergarten target); everything else is identical. Runs use 200 m
cells and walking only, to keep the module quick.
"""

from __future__ import annotations

import re
import shutil
import sqlite3
import subprocess
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path

import matplotlib as mpl
import numpy as np
import pandas as pd
import pyogrio
import pytest
from matplotlib import font_manager
from matplotlib.ft2font import FT2Font
from openpyxl import load_workbook
from typer.testing import CliRunner

import lifecircle.maps as maps
import lifecircle.report as rep
import lifecircle.report_data as rd
from access.crs import metric_to_lonlat
from access.errors import LifecircleError
from access.i18n import MESSAGES
from lifecircle.cli import app
from lifecircle.compare import compare_runs, match_facilities
from lifecircle.history import History, HistoryError, record_run
from lifecircle.maps import FontNotFoundError, MapCanvas, cjk_font
from lifecircle.pipeline import RunResult, run
from lifecircle.report import (
    ReportExistsError,
    neutralise_formula,
    report_run,
    target_group,
    write_report,
)
from lifecircle.report_data import ReportData
from lifecircle.report_sites import best_sites, candidate_spacing_m
from lifecircle.results import write_run
from lifecircle.site import SiteProblem, site_selection
from lifecircle.study_area import load_study_area

CHROMIUM = Path("/usr/bin/chromium")


def _area(tmp: Path, sample_dir: Path) -> Path:
    d = tmp / "area"
    shutil.copytree(sample_dir, d)
    toml = d / "area.toml"
    text = toml.read_text(encoding="utf-8")
    for old, new in (("k_nearest = 3", "k_nearest = 1"), ("cell_size_m = 100", "cell_size_m = 200"),
                     ('modes = ["walk", "drive"]', 'modes = ["walk"]')):
        assert old in text
        text = text.replace(old, new)
    toml.write_text(text, encoding="utf-8")
    return toml


class Runs:
    """Two recorded runs: ``first`` and ``second`` (one kindergarten added)."""

    def __init__(self, root: Path, sample_dir: Path) -> None:
        self.root = root
        self.area = _area(root, sample_dir)
        self.history = History(root / "history")
        self.out1, self.out2 = root / "out1", root / "out2"
        self.first = run(load_study_area(self.area))
        write_run(self.first, self.out1)
        self.rec1, self.new1 = record_run(self.history, self.first, self.out1, label="2026 Q3")
        # the most populated cell the kindergarten target leaves uncovered, near a street
        cells = self.first.cells
        cov = cells["covered__kindergarten_300"]
        cand = cells[cov.notna() & ~cov.astype(bool) & (cells["snap_dist_m"] < 60)]
        top = cand.sort_values("pop_total").iloc[-1]
        lon, lat = metric_to_lonlat([top["x"]], [top["y"]], self.first.crs)
        self.new_kg = (float(lon[0]), float(lat[0]))
        (self.area.parent / "new_kindergarten.csv").write_text(
            f"name,lon,lat\n新建幼儿园,{lon[0]:.7f},{lat[0]:.7f}\n", encoding="utf-8")
        with self.area.open("a", encoding="utf-8") as fh:
            fh.write('\n[[facilities]]\nkind = "table"\npath = "new_kindergarten.csv"\n'
                     'coords = "wgs84"\ncategory = "kindergarten"\n')
        self.second = run(load_study_area(self.area))
        write_run(self.second, self.out2)
        self.rec2, self.new2 = record_run(self.history, self.second, self.out2,
                                          label="2026 Q4")


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory, sample_dir: Path) -> Runs:
    return Runs(tmp_path_factory.mktemp("runs"), sample_dir)


@pytest.fixture(scope="module")
def report(runs: Runs, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The Chinese report of the second run, compared with the first."""
    if not CHROMIUM.exists():
        pytest.skip("no /usr/bin/chromium to print the PDF")
    out = tmp_path_factory.mktemp("rep") / "report"
    job = report_run(out, history_dir=runs.history.folder, ref="2026 Q4", compare="2026 Q3")
    return job.files


# ----------------------------------------------------------------------- history
def test_history_records_both_runs(runs: Runs) -> None:
    assert runs.new1
    assert runs.new2
    recs = runs.history.runs()
    assert [(r.run_id, r.label) for r in recs] == [(1, "2026 Q3"), (2, "2026 Q4")]
    t = runs.first.targets.targets
    assert recs[0].n_targets == len(t)
    assert recs[0].n_met == int((t["status"] == "met").sum())
    stored = runs.history.targets(1).set_index("target_id")
    for r in t.itertuples():
        v = stored.loc[r.id, "value"]
        assert (np.isnan(r.value) and pd.isna(v)) or v == r.value
    assert len(runs.history.units(2)) == len(runs.second.targets.units)
    assert len(runs.history.facilities(2)) == len(runs.second.facilities)


def test_same_inputs_are_not_recorded_twice(runs: Runs) -> None:
    rec, new = record_run(runs.history, runs.second, runs.out2, label="again")
    assert not new
    assert rec.run_id == 2
    assert rec.label == "2026 Q4"
    assert len(runs.history.runs()) == 2


def test_identical_run_recorded_meanwhile_elsewhere(runs: Runs, monkeypatch) -> None:
    """Two processes record the same run at once: the one whose insert loses returns the
    record the other wrote, never an IntegrityError."""
    real = History._connect
    seen: list[bool] = []

    @contextmanager
    def racing(self: History, *, write: bool = False) -> Iterator[sqlite3.Connection]:
        if not write and not seen:  # the check ran before the other process's insert
            seen.append(True)
            with closing(sqlite3.connect(":memory:")) as con:
                con.execute("CREATE TABLE runs (run_id INTEGER, fingerprint TEXT)")
                yield con
            return
        with real(self, write=write) as con:
            yield con

    monkeypatch.setattr(History, "_connect", racing)
    rec, new = record_run(History(runs.history.folder), runs.second, runs.out2, label="x")
    assert seen
    assert not new
    assert rec.run_id == 2
    assert len(runs.history.runs()) == 2


def test_history_is_append_only(runs: Runs) -> None:
    with sqlite3.connect(runs.history.path) as con, pytest.raises(
            sqlite3.IntegrityError, match="append-only"):
        con.execute("UPDATE runs SET label = 'x' WHERE run_id = 1")
    with sqlite3.connect(runs.history.path) as con, pytest.raises(
            sqlite3.IntegrityError, match="append-only"):
        con.execute("DELETE FROM run_targets")
    assert runs.history.get("2026 Q3").label == "2026 Q3"


def test_history_command_lists_runs(runs: Runs) -> None:
    res = CliRunner().invoke(app, ["history", "--history", str(runs.history.folder)])
    assert res.exit_code == 0, res.output
    assert "2026 Q3" in res.output
    assert "2026 Q4" in res.output
    assert "成都中心城区" in res.output


# ----------------------------------------------------------------------- comparison
def test_comparison_lists_exactly_the_added_kindergarten(runs: Runs) -> None:
    c = compare_runs(runs.history, "2026 Q3", "2026 Q4")
    assert len(c.facilities_added) == 1
    added = c.facilities_added.iloc[0]
    assert added["category"] == "kindergarten"
    assert added["name"] == "新建幼儿园"
    assert added["lon"] == pytest.approx(runs.new_kg[0], abs=1e-6)
    assert c.facilities_removed.empty
    assert c.facilities_matched.empty
    # exactly the targets whose values differ between the two runs' tables
    t1 = runs.first.targets.targets.set_index("id")
    t2 = runs.second.targets.targets.set_index("id")
    differ = {i for i in t1.index
              if not (np.isnan(t1.at[i, "value"]) and np.isnan(t2.at[i, "value"]))
              and t1.at[i, "value"] != t2.at[i, "value"]}
    assert "kindergarten_300" in differ
    changed = c.changed_targets.set_index("target_id")
    assert set(changed.index) == differ
    for i in differ:
        assert changed.at[i, "value_then"] == t1.at[i, "value"]
        assert changed.at[i, "value_now"] == t2.at[i, "value"]
        assert changed.at[i, "change"] == t2.at[i, "value"] - t1.at[i, "value"]
    # coverage never falls when a facility is added
    assert (changed["change"] > 0).all()
    assert c.units_worse.empty
    assert set(c.units_improved["target_id"]) <= differ


def test_facilities_matched_by_name_or_location() -> None:
    then = pd.DataFrame({"facility_id": ["a", "b", "c"], "name": ["甲", "乙", "丙"],
                         "category": ["clinic"] * 3, "lon": [104.0, 104.01, 104.02],
                         "lat": [30.0, 30.0, 30.0]})
    now = pd.DataFrame({"facility_id": ["a", "b2", "c2", "d"],
                        "name": ["甲", "乙", "丙丙", "丁"], "category": ["clinic"] * 4,
                        "lon": [104.0, 104.0101, 104.02001, 104.05],
                        "lat": [30.0, 30.0, 30.0, 30.0]})
    added, removed, matched = match_facilities(then, now)
    assert list(added["facility_id"]) == ["d"]
    assert removed.empty
    assert dict(zip(matched["facility_id_now"], matched["how"], strict=True)) == {
        "b2": "name", "c2": "location"}


# ----------------------------------------------------------------------- report
def test_report_html_opens_in_chromium(report: dict[str, Path]) -> None:
    sync_api = pytest.importorskip("playwright.sync_api")
    html = report["html"].read_text(encoding="utf-8")
    assert "http://" not in html
    assert "https://" not in html
    errors: list[str] = []
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), headless=True,
                                     args=["--no-sandbox", "--disable-gpu"])
        try:
            page = browser.new_page()
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto(report["html"].as_uri())
            page.wait_for_load_state("load")
            images = page.eval_on_selector_all(
                "img", "els => els.map(e => [e.complete, e.naturalWidth])")
            rows = page.locator("tr.changed-target").count()
            added = page.locator("tr.fac-added").all_inner_texts()
        finally:
            browser.close()
    assert errors == []
    assert len(images) >= 2
    assert all(done and width > 0 for done, width in images)
    assert rows >= 1
    assert len(added) == 1
    assert "新建幼儿园" in added[0]


def test_pdf_pages_and_chinese_text(report: dict[str, Path], runs: Runs) -> None:
    if shutil.which("pdftotext") is None:
        pytest.skip("poppler-utils not installed")
    info = subprocess.run(["pdfinfo", str(report["pdf"])], capture_output=True, text=True,
                          check=True).stdout
    pages = int(next(line.split()[-1] for line in info.splitlines()
                     if line.startswith("Pages:")))
    t = runs.second.targets.targets
    failing = t[t["status"] == "not_met"]
    # the scorecard, then each failing target on a page of its own, then the appendices
    assert len(failing) + 2 <= pages <= 3 * len(failing) + 8
    text = subprocess.run(["pdftotext", "-layout", str(report["pdf"]), "-"],
                          capture_output=True, text=True, check=True).stdout
    flat = "".join(text.split())
    for name in t["name_zh"]:
        assert "".join(str(name).split()) in flat, name
    for name in failing["name_zh"]:
        assert f"{name}：" in flat, name


def test_workbook_equals_tables(report: dict[str, Path], runs: Runs) -> None:
    wb = load_workbook(report["xlsx"])
    targets = pd.read_csv(runs.out2 / "targets.csv", encoding="utf-8-sig")
    units = pd.read_csv(runs.out2 / "units.csv", encoding="utf-8-sig", dtype={"unit_id": str})
    groups = list(dict.fromkeys(target_group(i) for i in targets["id"]))
    assert wb.sheetnames == [*groups, "各单元结果", "未达标单元", "未采用记录", "元数据"]
    rows = []
    for g in groups:
        ws = wb[g]
        head = [c.value for c in ws[1]]
        assert head[:5] == ["编号", "目标名称", "目标名称（英文）", "类型", "现状值"]
        assert ws.freeze_panes == "B2"
        rows += [dict(zip(head, r, strict=True)) for r in ws.iter_rows(min_row=2, values_only=True)]
    got = pd.DataFrame(rows).set_index("编号")
    for r in targets.itertuples():
        for col, zh in (("value", "现状值"), ("threshold", "目标值"),
                        ("population_base", "人口基数")):
            want, have = getattr(r, col), got.at[r.id, zh]
            assert (pd.isna(have) and np.isnan(want)) or have == want, (r.id, col)
        assert got.at[r.id, "结论"] == r.status
    ws = wb["各单元结果"]
    vals = list(ws.iter_rows(min_row=2, values_only=True))
    assert len(vals) == len(units)
    for (tid, level, uid, name, value, thr, met, _detail, *_rest), u in zip(
            vals, units.itertuples(), strict=True):
        assert (tid, level, uid, name) == (u.target_id, u.level, u.unit_id, u.name)
        assert value == u.value
        assert thr == u.threshold
        assert met == u.met
    fmt = ws.cell(row=2, column=5).number_format
    assert fmt in ("0.0%", "#,##0.00")
    failing = list(wb["未达标单元"].iter_rows(min_row=2, values_only=True))
    assert len(failing) == int((~units["met"]).sum())


def test_gpkg_layers(report: dict[str, Path], runs: Runs) -> None:
    layers = dict(pyogrio.list_layers(report["gpkg"]))
    assert {"cells", "facilities", "units", "gap_areas"} <= set(layers)
    cells = pyogrio.read_dataframe(report["gpkg"], layer="cells", read_geometry=False)
    assert len(cells) == len(runs.second.cells)
    fac = pyogrio.read_dataframe(report["gpkg"], layer="facilities")
    assert len(fac) == len(runs.second.facilities)
    # gap areas as outlines: the union of each area's cells, as the run's own gaps.gpkg
    gaps = pyogrio.read_dataframe(report["gpkg"], layer="gap_areas")
    want = runs.second.targets.gaps
    assert len(gaps) == len(want)
    assert set(gaps.geom_type) <= {"Polygon", "MultiPolygon"}
    members = runs.second.targets.gap_cells
    cell_m2 = 200.0 ** 2
    got = gaps.set_index(["target_id", "rank"]).geometry.area
    n = members.groupby(["target_id", "rank"]).size()
    for key, k in n.items():
        assert got[key] == pytest.approx(k * cell_m2, rel=1e-6)


def test_report_is_never_overwritten_silently(report: dict[str, Path], runs: Runs) -> None:
    out = report["html"].parent
    before = report["html"].read_bytes()
    data = ReportData.from_folder(runs.out2)
    with pytest.raises(ReportExistsError):
        write_report(data, out, pdf=False)
    assert report["html"].read_bytes() == before
    res = CliRunner().invoke(app, ["report", "--run", str(runs.out2), "--history",
                                   str(runs.history.folder), "--out", str(out), "--no-pdf"])
    assert res.exit_code == 2
    assert "--force" in res.output
    assert "Traceback" not in res.output


def test_english_report_and_trend(runs: Runs, tmp_path: Path) -> None:
    # a third record (same results, other input checksums) makes a trend of three runs
    runs_before = len(runs.history.runs())
    t = runs.second.targets
    rec3, new = runs.history.record(
        area=runs.second.area, targets=t.targets, units=t.units,
        facilities=runs.second.facilities, out_dir=runs.out2, version="test",
        label="2027 Q1", checksums={"/nonexistent/input.csv": "0" * 64})
    assert new
    assert rec3.run_id == runs_before + 1
    data = ReportData.from_folder(runs.out2)
    job = report_run(tmp_path / "en", history_dir=runs.history.folder, ref="2027 Q1",
                     lang="en", pdf=False)
    html = job.files["html"].read_text(encoding="utf-8")
    assert 'lang="en"' in html
    assert "Scorecard" in html
    assert "Trend over recorded runs" in html
    assert any(k.startswith("map_trend_") for k in job.files)
    # the recorded input is gone: the report says so
    assert job.changed_inputs == ["/nonexistent/input.csv"]
    assert 'id="inputs-changed"' in html
    assert data.title("en") == "Central Chengdu (sample)"


def test_report_says_when_inputs_changed(runs: Runs, tmp_path: Path) -> None:
    rec = runs.history.get("2026 Q4")
    assert rec.changed_inputs() == []
    csv = runs.area.parent / "new_kindergarten.csv"
    old = csv.read_text(encoding="utf-8")
    try:
        csv.write_text(old + "另一所幼儿园,104.07,30.67\n", encoding="utf-8")
        res = CliRunner().invoke(app, ["report", "--history", str(runs.history.folder),
                                       "--from", "2026 Q4", "--out", str(tmp_path / "r"),
                                       "--no-pdf"])
        assert res.exit_code == 0, res.output
        assert "new_kindergarten.csv" in res.output
        html = (tmp_path / "r" / "report.html").read_text(encoding="utf-8")
        assert 'id="inputs-changed"' in html
        assert "new_kindergarten.csv" in html
    finally:
        csv.write_text(old, encoding="utf-8")


# ----------------------------------------------------------------------- bad input
def _one_line_error(res: object) -> str:
    assert res.exit_code == 2, res.output
    assert "Traceback" not in res.output
    lines = [ln for ln in res.output.strip().splitlines() if ln.strip()]
    assert len(lines) == 1, res.output
    return lines[0]


def test_unknown_label_is_one_line(runs: Runs, tmp_path: Path) -> None:
    res = CliRunner().invoke(app, ["report", "--history", str(runs.history.folder),
                                   "--compare", "2019 Q1", "--out", str(tmp_path / "r")],
                             terminal_width=400)
    assert "2019 Q1" in _one_line_error(res)
    with pytest.raises(HistoryError, match="no recorded run"):
        runs.history.get("nope")


def test_corrupt_history_detected_and_kept(runs: Runs, tmp_path: Path) -> None:
    bad = tmp_path / "hist"
    bad.mkdir()
    f = bad / "history.sqlite"
    shutil.copy(runs.history.path, f)
    raw = bytearray(f.read_bytes())
    raw[4096:8192] = b"\xa5" * 4096  # a damaged page
    f.write_bytes(bytes(raw))
    before = f.read_bytes()
    with pytest.raises(HistoryError, match=r"corrupt|not a lifecircle"):
        History(bad)
    for args in (["history", "--history", str(bad)],
                 ["report", "--history", str(bad), "--out", str(tmp_path / "r")],
                 ["run", "--history", str(bad), "--out", str(tmp_path / "o")]):
        res = CliRunner().invoke(app, args, terminal_width=400)
        assert "history.sqlite" in _one_line_error(res)
    assert f.read_bytes() == before
    assert not (tmp_path / "o").exists()  # found before the analysis
    other = tmp_path / "other"
    other.mkdir()
    (other / "history.sqlite").write_text("not a database", encoding="utf-8")
    with pytest.raises(HistoryError, match="not a lifecircle run history"):
        History(other)


def test_report_before_any_run(tmp_path: Path) -> None:
    res = CliRunner().invoke(app, ["report", "--history", str(tmp_path / "none"),
                                   "--out", str(tmp_path / "r")], terminal_width=400)
    assert "lifecircle run" in _one_line_error(res)
    assert not (tmp_path / "none").exists()
    res = CliRunner().invoke(app, ["history", "--history", str(tmp_path / "none")])
    assert res.exit_code == 0
    assert "还没有" in res.output


# ----------------------------------------------------------------------- pieces
def test_map_title_renders_with_a_cjk_font(runs: Runs, tmp_path: Path) -> None:
    font = cjk_font()
    assert "CJK" in font.path.name or "cjk" in str(font.path).lower()
    ft = FT2Font(str(font.path))
    assert all(ft.get_char_index(ord(ch)) for ch in "覆盖率图例北")
    fallback = font_manager.findfont("DejaVu Sans")
    assert Path(fallback) != font.path
    r: RunResult = runs.first
    poly = r.unit_polygons["district"]
    canvas = MapCanvas(r.crs, tuple(r.boundary.bounds), units=poly)
    fig = canvas.figure("幼儿园服务半径覆盖")
    title = fig.axes[0].title
    assert title.get_text() == "幼儿园服务半径覆盖"
    # the font is pinned on the text itself, not left to whatever rcParams say
    with mpl.rc_context({"font.family": "serif", "font.serif": ["DejaVu Serif"]}):
        used = font_manager.findfont(title.get_fontproperties(), fallback_to_default=False)
        assert Path(used) == font.path
        fig.savefig(tmp_path / "m.png")  # a missing glyph would warn, and warnings fail
    assert (tmp_path / "m.png").stat().st_size > 10_000


def test_missing_cjk_font_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(maps, "_FONT", None)
    monkeypatch.setattr(maps, "CJK_FAMILIES", ("No Such Font CJK",))
    with pytest.raises(FontNotFoundError, match="fonts-noto-cjk"):
        maps.cjk_font()


@pytest.mark.parametrize(("text", "want"), [
    ("=cmd|' /C calc'!A0", "'=cmd|' /C calc'!A0"), ("+1", "'+1"), ("-2", "'-2"),
    ("@SUM(A1)", "'@SUM(A1)"), ("正常文本", "正常文本"), (3.5, 3.5), ("", "")])
def test_neutralise_formula(text: object, want: object) -> None:
    assert neutralise_formula(text) == want


def test_workbook_neutralises_formulas(runs: Runs, tmp_path: Path) -> None:
    data = ReportData.from_folder(runs.out1)
    data.rejects = pd.concat([data.rejects, pd.DataFrame(
        {"kind": ["facility"], "source": ["=HYPERLINK(\"http://x\")"], "row": ["@1"],
         "reason": ["-bad"]})], ignore_index=True)
    files = write_report(data, tmp_path / "r", pdf=False)
    ws = load_workbook(files["xlsx"])["未采用记录"]
    last = [c.value for c in ws[ws.max_row]]
    assert last[1] == "'=HYPERLINK(\"http://x\")"
    assert last[2] == "'@1"
    assert last[3] == "'-bad"
    assert all(c.data_type != "f" for row in ws.iter_rows() for c in row)


# ----------------------------------------------------------------------- new sites
def test_report_shows_the_site_engines_best_sites(report: dict[str, Path], runs: Runs) -> None:
    # the report, made from the run folder, shows what the site-selection engine answers
    # on the run itself (same sites, same residents each adds)
    data = ReportData.from_folder(runs.out2)
    spacing = candidate_spacing_m(data, "kindergarten_300", 2000)
    want = site_selection(runs.second, SiteProblem(
        category="kindergarten", n=3, target="kindergarten_300", method="greedy",
        spacing_m=spacing)).sites
    got = pyogrio.read_dataframe(report["gpkg"], layer="new_sites")
    kg = got[got["target_id"] == "kindergarten_300"].sort_values("rank")
    assert list(kg["rank"]) == [1, 2, 3]
    assert (kg["category"] == "kindergarten").all()
    np.testing.assert_allclose(kg["lon"], want["lon"], rtol=0, atol=1e-9)
    np.testing.assert_allclose(kg["lat"], want["lat"], rtol=0, atol=1e-9)
    np.testing.assert_allclose(kg["marginal_pop"], want["marginal_pop"], rtol=1e-12)
    assert list(kg["unit"]) == list(want["unit_name__district"])
    html = report["html"].read_text(encoding="utf-8")
    section = html.split('id="target-kindergarten_300"', 1)[1].split("</section>", 1)[0]
    assert section.count('class="new-site"') == 3
    assert "lifecircle site -c kindergarten --add 3 --target kindergarten_300" in section
    assert f"{want['marginal_pop'].iloc[0]:,.0f}" in section


def test_sites_from_memory_equal_sites_from_the_folder(runs: Runs) -> None:
    ids = ["kindergarten_300", "primary_school_500"]
    mem = best_sites(ReportData.from_result(runs.second), ids)
    disk = best_sites(ReportData.from_folder(runs.out2), ids)
    assert set(mem) == set(disk) == set(ids)
    for tid in ids:
        pd.testing.assert_frame_equal(mem[tid].sites, disk[tid].sites)
        assert mem[tid].share_promised == disk[tid].share_promised


def test_sites_of_a_folder_without_its_boundary(runs: Runs) -> None:
    # an older run.json without the boundary: the cells' extent stands in for it
    data = ReportData.from_folder(runs.out2)
    with_wkt = best_sites(data, ["kindergarten_300"])["kindergarten_300"]
    data.meta.pop("boundary_lonlat_wkt")
    got = best_sites(data, ["kindergarten_300"])["kindergarten_300"]
    assert len(got.sites) == 3
    assert got.note is None
    assert got.sites["marginal_pop"].sum() == pytest.approx(
        with_wkt.sites["marginal_pop"].sum(), rel=0.2)


def test_candidate_spacing_widens_with_the_uncovered_area(runs: Runs) -> None:
    data = ReportData.from_folder(runs.out2)
    flag = data.cells["covered__kindergarten_300"]
    n_unc = int((flag.notna() & ~flag.fillna(False).astype(bool)
                 & (data.cells["pop_total"] > 0)).sum())
    assert candidate_spacing_m(data, "kindergarten_300", 10**9) == 150.0
    want = 200.0 * (n_unc / 100) ** 0.5  # 200 m cells, 100 candidates
    assert candidate_spacing_m(data, "kindergarten_300", 100) == pytest.approx(want)


def test_sites_stay_within_the_time_budget(runs: Runs) -> None:
    data = ReportData.from_folder(runs.out2)
    # a target that is not a walking circle target is not offered sites
    got = best_sites(data, ["kindergarten_300", "sports_area"], budget_s=0.0)
    assert set(got) == {"kindergarten_300"}
    g = got["kindergarten_300"]
    assert g.sites.empty
    assert g.note is not None
    assert "lifecircle site -c kindergarten --add 3 --target kindergarten_300" in g.note[1]


def test_gap_areas_with_radius_lonlat_and_unit(runs: Runs, tmp_path: Path) -> None:
    # gap areas as the engine now gives them: rank, residents, radius, lon/lat, unit
    data = ReportData.from_folder(runs.out1)
    x0, y0 = data.cells["x"].iloc[0], data.cells["y"].iloc[0]
    data.gaps = pd.DataFrame({
        "target_id": "kindergarten_300", "rank": [2, 1], "group": "age_3_5",
        "residents": [120.4, 310.6], "n_cells": [3, 7], "radius_m": [300.0, 300.0],
        "x": [x0, x0 + 400], "y": [y0, y0], "lon": [104.01234, 104.05678],
        "lat": [30.61234, 30.65678], "center_cell_id": [1, 2],
        "unit__district": ["a", "b"], "unit_name__district": ["甲区", "乙区"]})
    files = write_report(data, tmp_path / "r", pdf=False, sites=0)
    html = files["html"].read_text(encoding="utf-8")
    section = html.split('id="target-kindergarten_300"', 1)[1].split("</section>", 1)[0]
    rows = section.split('class="gap-area"')[1:]
    assert len(rows) == 2
    for row, want in zip(rows, (("311", "乙区", "104.05678, 30.65678"),
                                ("120", "甲区", "104.01234, 30.61234")), strict=True):
        for text in want:
            assert text in row
    assert "范围半径（米）" in section
    gaps = pyogrio.read_dataframe(files["gpkg"], layer="gap_areas")
    assert sorted(gaps["rank"]) == [1, 2]
    assert "new_sites" not in dict(pyogrio.list_layers(files["gpkg"]))


def test_gpkg_carries_qgis_layer_styles(report: dict[str, Path]) -> None:
    layers = dict(pyogrio.list_layers(report["gpkg"]))
    with sqlite3.connect(report["gpkg"]) as con:
        contents = dict(con.execute("SELECT table_name, data_type FROM gpkg_contents"))
        geom = dict(con.execute("SELECT table_name, geometry_type_name "
                                "FROM gpkg_geometry_columns"))
        rows = con.execute("SELECT f_table_name, f_geometry_column, styleName, styleQML, "
                           "styleSLD, useAsDefault FROM layer_styles").fetchall()
        columns = {t: {r[1] for r in con.execute(f"PRAGMA table_info('{t}')")} for t in geom}
    assert contents["layer_styles"] == "attributes"
    styled = {r[0] for r in rows}
    assert styled == set(geom)  # every layer with a geometry, and nothing else
    assert {"cells", "facilities", "units", "gap_areas", "new_sites"} <= styled
    assert set(layers) >= styled
    kinds = {"POLYGON": "2", "MULTIPOLYGON": "2", "POINT": "0"}
    for table, geom_col, name, qml, sld, default in rows:
        assert default == 1
        assert geom_col == "geom"
        assert any("\u4e00" <= ch <= "\u9fff" for ch in name), name  # a Chinese style name
        root = ET.fromstring(qml.split("\n", 1)[1])  # past the DOCTYPE line
        assert root.tag == "qgis"
        assert root.findtext("layerGeometryType") == kinds[geom[table]]
        renderer = root.find("renderer-v2")
        assert renderer is not None
        symbols = {s.get("name") for s in renderer.iter("symbol")}
        if renderer.get("type") == "graduatedSymbol":
            assert renderer.get("attr") in columns[table]
            ranges = renderer.findall("ranges/range")
            assert len(ranges) == len(symbols) >= 2
            lows = [float(r.get("lower")) for r in ranges]
            assert lows == sorted(lows)
            assert {r.get("symbol") for r in ranges} == symbols
        else:
            assert renderer.get("type") == "singleSymbol"
            assert symbols == {"0"}
        for ts in root.iter("text-style"):
            assert ts.get("fieldName") in columns[table]
        sroot = ET.fromstring(sld.encode("utf-8"))
        ns = {"sld": "http://www.opengis.net/sld", "se": "http://www.opengis.net/se"}
        assert sroot.findtext("sld:NamedLayer/se:Name", namespaces=ns) == table


def test_report_texts_come_from_the_one_catalogue() -> None:
    src = Path(rep.__file__).read_text(encoding="utf-8")
    tpl = (rep.TEMPLATES / "report.html.j2").read_text(encoding="utf-8")
    keys = set(re.findall(r"_t\(\"(\w+)\"", src)) | set(re.findall(r"\bt\('(\w+)'", tpl))
    assert len(keys) > 40
    for key in keys:
        full = key if key in rep._SHARED_TEXTS else f"report_{key}"
        assert full in MESSAGES, key
        for lang in ("zh", "en"):
            fields = re.findall(r"\{(\w+)", MESSAGES[full][0])
            assert rep._t(key, lang, **dict.fromkeys(fields, 1))
    assert not hasattr(rep, "T")  # no second table of report texts


def test_unreadable_study_area_is_a_note_in_both_languages(
        runs: Runs, monkeypatch: pytest.MonkeyPatch) -> None:
    def gone(path: object) -> None:
        raise LifecircleError("area.toml: file not found")

    monkeypatch.setattr(rd, "load_study_area", gone)
    data = ReportData.from_folder(runs.out2)
    assert data.area is None
    assert data.notes == [(
        "无法读取研究区文件，地图不含单元边界和路网：area.toml: file not found",
        "the study-area file cannot be read; maps lack unit boundaries and streets: "
        "area.toml: file not found")]
    assert best_sites(data, ["kindergarten_300"]) == {}  # no study area: no sites
