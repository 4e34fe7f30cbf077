"""The ``lifecircle`` command.

``lifecircle run`` analyses a study area (the bundled central-Chengdu sample when no
``--area`` is given) and writes its results to ``--out``; ``lifecircle serve`` opens
the dashboard on the last run's study area. Errors in the input are
reported in one line naming the file, the row and the parameter, without a traceback.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, cast

import numpy as np
import typer
from rich.console import Console, JustifyMethod
from rich.table import Table
from rich.text import Text

from access.errors import InputFileError, LifecircleError
from access.i18n import MESSAGES, language, t
from access.targets import format_summary
from access.travel import dist_to_time_min
from lifecircle.area_models import study_area_schema
from lifecircle.history import (
    History,
    default_history_dir,
    find_histories,
    history_of_run,
    record_run,
)
from lifecircle.partition import PartitionOptions, run_partitioned
from lifecircle.pipeline import RunResult, study_boundary
from lifecircle.pipeline import run as run_pipeline
from lifecircle.results import (
    FORMATS,
    Fmt,
    check_replaceable,
    output_lock,
    recover_stale,
    write_run,
)
from lifecircle.study_area import default_area_path, load_study_area
from lifecircle.summary import access_table, gap_rows, population_rows

if TYPE_CHECKING:
    from lifecircle.site import SiteResult

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="lifecircle: 公共服务设施可达性分析 / accessibility of public services.")


def _console() -> Console:
    return Console(highlight=False, soft_wrap=False, width=120)


def _print_error(console: Console, exc: Exception, lang: str = "zh") -> None:
    """One line, never wrapped, no traceback; in ``lang`` (Chinese by default)."""
    text = exc.text(lang) if isinstance(exc, LifecircleError) else str(exc)
    sep = "：" if lang == "zh" else ": "
    msg = Text(f"{t('error', lang)}{sep}", style="bold red")
    msg.append(text)  # plain text: "[network]" in a message is no markup
    console.print(msg, soft_wrap=True)


class _QuietCompleteness(logging.Filter):
    """Completeness warnings have their own table in the summary: keep them off stderr."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.name != "facilities.completeness" or record.levelno >= logging.ERROR


class _LogFormatter(logging.Formatter):
    """``警告 lifecircle.pipeline：…`` in Chinese, ``WARNING lifecircle.pipeline: …`` in
    English; messages from :func:`access.i18n.say` come out in the language set."""

    def __init__(self, lang: str) -> None:
        super().__init__()
        self.lang = lang

    def format(self, record: logging.LogRecord) -> str:
        key = f"level_{record.levelname}"
        level = t(key, self.lang) if key in MESSAGES else record.levelname
        sep = "：" if self.lang == "zh" else ": "
        text = f"{level} {record.name}{sep}{record.getMessage()}"
        if record.exc_info:
            text += "\n" + self.formatException(record.exc_info)
        return text


@contextmanager
def logging_to_stderr(verbose: bool, lang: str = "zh") -> Iterator[None]:
    """Log to stderr in ``lang`` while the command runs (progress bars too); restore the
    logging set-up and the language afterwards."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_LogFormatter(lang))
    if not verbose:
        handler.addFilter(_QuietCompleteness())
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO if verbose else logging.WARNING)
    try:
        with language(lang):
            yield
    finally:
        root.removeHandler(handler)
        root.setLevel(old_level)


@app.callback()
def main_callback() -> None:
    """lifecircle: 公共服务设施可达性分析 / accessibility of public services."""


@app.command()
def run(
    area: Annotated[Path | None, typer.Option(
        "--area", "-a", help="研究区文件 / study-area TOML file (default: bundled sample)")] = None,
    out: Annotated[Path, typer.Option(
        "--out", "-o", help="输出目录 / output folder")] = Path("out"),
    lang: Annotated[str, typer.Option(
        "--lang", help="zh | en")] = "zh",
    quiet: Annotated[bool, typer.Option(
        "--quiet", "-q", help="不显示进度 / no progress bars")] = False,
    verbose: Annotated[bool, typer.Option(
        "--verbose", "-v", help="显示处理日志 / log each step")] = False,
    no_cache: Annotated[bool, typer.Option(
        "--no-cache", help="不使用路网缓存 / rebuild networks")] = False,
    label: Annotated[str | None, typer.Option(
        "--label", help="批次名称，如 \"2026 Q4\" / run label for the history")] = None,
    history: Annotated[Path | None, typer.Option(
        "--history", help="运行历史目录 / history folder "
        "(default: lifecircle-history beside --out)")] = None,
    no_history: Annotated[bool, typer.Option(
        "--no-history", help="不记入运行历史 / do not record the run")] = False,
    fmt: Annotated[str, typer.Option(
        "--format", help="parquet（GeoParquet，默认）| gpkg（GeoPackage）")] = "parquet",
    partition: Annotated[str | None, typer.Option(
        "--partition", help="分区运行：按某级单元（如 county）或 tiles / partitioned run: "
        "by a [[units]] level (e.g. county) or 'tiles'")] = None,
    workers: Annotated[int, typer.Option(
        "--workers", help="本机工作进程数 / local Dask worker processes")] = 2,
    scheduler: Annotated[str | None, typer.Option(
        "--scheduler", help="Dask 调度器地址 / address of a running Dask scheduler "
        "(tcp://host:8786)")] = None,
    tile_km: Annotated[float, typer.Option(
        "--tile-km", help="瓦片边长（公里）/ tile side in km (--partition tiles)")] = 20.0,
    worker_memory: Annotated[str, typer.Option(
        "--worker-memory", help="每个工作进程内存上限 / memory limit per local worker "
        "(e.g. 3GB)")] = "auto",
) -> None:
    """运行分析 / Run the analysis and write results."""
    if lang not in ("zh", "en"):
        raise typer.BadParameter("use 'zh' or 'en'", param_hint="--lang")
    if fmt not in FORMATS:
        raise typer.BadParameter("use 'parquet' or 'gpkg'", param_hint="--format")
    if partition is None and scheduler is not None:
        raise typer.BadParameter("a scheduler runs partitions: give --partition too",
                                 param_hint="--scheduler")
    console = _console()
    start = time.perf_counter()
    recorded = None
    try:
        check_out_dir(out)
        # one run per output folder: the lock is taken before the analysis starts
        with logging_to_stderr(verbose, lang), output_lock(out):
            for zh, en in recover_stale(out):
                console.print(f"[yellow]{zh if lang == 'zh' else en}[/yellow]")
            check_replaceable(out)  # a run replaces the folder: refuse others' files now
            # a corrupt history is found before the analysis, not after it
            hist = None if no_history else History(history or default_history_dir(out))
            study = load_study_area(area if area is not None else default_area_path())
            title = (study.title_zh if lang == "zh" else study.title_en) or study.name
            console.print(f"[bold]{t('running', lang, name=title)}[/bold]")
            if partition is None:
                result = run_pipeline(study, progress=not quiet, use_cache=not no_cache)
            else:
                options = PartitionOptions(by=partition, tile_km=tile_km, workers=workers,
                                           scheduler=scheduler, worker_memory=worker_memory)
                result = run_partitioned(study, options, progress=not quiet,
                                         use_cache=not no_cache)
            files = write_run(result, out, fmt=cast(Fmt, fmt),
                              history_dir=None if hist is None else hist.folder)
            if hist is not None:
                recorded = record_run(hist, result, out, label=label)
    except LifecircleError as exc:
        _print_error(console, exc, lang)
        raise typer.Exit(code=2) from None
    print_summary(result, files, lang=lang, console=console)
    if recorded is not None:
        assert hist is not None  # a run is recorded only with a history
        rec, new = recorded
        key = "history_recorded" if new else "history_same"
        console.print(t(key, lang, id=rec.run_id, label=rec.label or "", path=hist.path))
    console.print(t("done", lang, s=time.perf_counter() - start))


def check_out_dir(out: Path) -> None:
    """Refuse an output folder that is a file or cannot be written, before any analysis.

    Raises
    ------
    InputFileError
        ``out`` is an existing file, lies under a file, or its nearest existing
        folder cannot be written.
    """
    out = Path(out).absolute()
    if out.exists() and not out.is_dir():
        raise InputFileError("--out names an existing file; give a folder for the results",
                             path=out, column="--out")
    parent = out
    while not parent.exists():
        parent = parent.parent
    if not parent.is_dir():
        raise InputFileError(f"--out lies under {parent}, which is a file; give a folder",
                             path=out, column="--out")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise InputFileError(f"cannot write in {parent} (no permission); choose another --out",
                             path=out, column="--out")


@app.command()
def schema() -> None:
    """打印研究区文件的 JSON Schema / Print the JSON Schema of the study-area file."""
    typer.echo(json.dumps(study_area_schema(), ensure_ascii=False, indent=2))


def print_summary(result: RunResult, files: dict[str, Path], *, lang: str = "zh",
                  console: Console | None = None) -> None:
    """Print the run's summary tables."""

    console = console or _console()
    r = result
    spec = r.population.spec
    head = Table(title=t("study_area", lang), show_header=False)
    head.add_row(t("study_area", lang), str(r.area.path))
    head.add_row(t("crs", lang), f"{r.crs.to_string()} ({r.crs.name})")
    head.add_row(t("grid", lang), f"{spec.n_rows} × {spec.n_cols} × {spec.cell_size_m:g} m")
    cells = r.cells
    head.add_row(t("cells_in_area", lang), f"{len(cells):,}")
    head.add_row(t("populated_cells", lang), f"{int((cells['pop_total'] > 0).sum()):,}")
    console.print(head)

    net = Table(title=t("network", lang))
    for key in ("mode", "nodes", "arcs", "dropped_nodes", "missing_node_refs"):
        net.add_column(t(key, lang), justify="right" if key != "mode" else "left")
    for mode, n in r.networks.items():
        net.add_row(t(mode, lang), f"{n.n_nodes:,}", f"{n.n_arcs:,}",
                    f"{n.report['nodes_dropped']:,}",
                    f"{n.report.get('missing_node_refs', 0):,}")
    console.print(net)
    if r.partitions is not None and len(r.partitions):
        p = r.partitions
        n_parts = int(p["modes"].str.split("+").map(lambda m: "walk" in m).sum())
        console.print(t("partitions", lang, n=n_parts, g=len(p) - n_parts,
                        s=float(p["seconds"].sum()), mb=float(p["peak_rss_mb"].max())))

    pop = Table(title=t("population", lang))
    pop.add_column(t("group", lang))
    pop.add_column(t("persons", lang), justify="right")
    for label, value in population_rows(r, lang=lang):
        pop.add_row(label, f"{value:,.0f}")
    console.print(pop)
    for zh, en in r.population.notes:
        console.print(f"  · {zh if lang == 'zh' else en}")

    acc = Table(title=t("travel", lang))
    columns: tuple[tuple[str, JustifyMethod], ...] = (
        ("category", "left"), ("count", "right"), ("unreachable_pop", "right"),
        ("unreachable_cells", "right"), ("median_time", "right"), ("within_5", "right"),
        ("within_10", "right"), ("within_15", "right"))
    for key, just in columns:
        acc.add_column(t(key, lang), justify=just)
    limit_min = dist_to_time_min(r.area.travel.max_walk_dist_m,
                                 r.area.travel.walk_speed_kmh["total"])
    for row in access_table(r, lang=lang):
        med = row["median_min"]
        label = row["label"] if row["count"] else f"{row['label']} {t('no_facilities', lang)}"
        acc.add_row(label, str(row["count"]), f"{row['unreachable_pop']:,.0f}",
                    f"{row['unreachable_cells']:,}",
                    "–" if np.isnan(med) else (f"> {limit_min:.0f}" if np.isinf(med)
                                               else f"{med:.1f}"),
                    *(f"{row[k]:.1%}" for k in ("within_5", "within_10", "within_15")))
    console.print(acc)
    console.print(f"  · {t('unreachable_note', lang, km=r.area.travel.max_walk_dist_m / 1000)}")
    for zh, en in r.notes:
        console.print(f"  · {zh if lang == 'zh' else en}")

    comp = r.completeness
    flagged = comp[comp["status"].isin(["low", "none"]) & comp["expected_min_per_10k"].notna()]
    if len(flagged):
        table = Table(title=t("data_warnings", lang), title_style="yellow")
        for key in ("category", "count", "per_10k", "expected_per_10k"):
            table.add_column(t(key, lang), justify="left" if key == "category" else "right")
        for row in flagged.itertuples():
            table.add_row(r.taxonomy.label(row.category, lang),
                          str(row.count), f"{row.per_10k:.2f}",
                          f"{row.expected_min_per_10k:.2f}–{row.expected_max_per_10k:.2f}")
        console.print(table)
        console.print(f"  [yellow]{t('data_warning_note', lang)}[/yellow]")

    rej = r.rejects.to_frame()
    if len(rej):
        table = Table(title=t("rejects", lang))
        table.add_column(t("kind", lang))
        table.add_column(t("reason", lang))
        table.add_column(t("count", lang), justify="right")
        col = "reason_zh" if lang == "zh" else "reason_en"
        counts = rej.groupby(["kind", col]).size().reset_index(name="n")
        for k, reason, n in counts.itertuples(index=False):
            table.add_row(t(f"kind_{k}", lang) if f"kind_{k}" in MESSAGES else k, reason,
                          str(n))
        console.print(table)

    if r.targets is not None:
        console.print(f"[bold]{t('targets', lang)}[/bold]")
        console.print(format_summary(r.targets, lang=lang), markup=False, soft_wrap=True)

    gaps = gap_rows(r, lang=lang)
    if gaps:
        table = Table(title=t("gap_title", lang))
        for key in ("gap_target", "gap_residents", "gap_cells_n", "gap_radius", "gap_unit",
                    "gap_lonlat", "gap_n_areas"):
            table.add_column(t(key, lang), justify="left" if key in (
                "gap_target", "gap_unit", "gap_lonlat") else "right")
        for g in gaps:
            table.add_row(g["target"], f"{g['residents']:,.0f}", f"{g['n_cells']:,}",
                          f"{g['radius_m']:,.0f}", g["unit"],
                          f"{g['lon']:.5f}, {g['lat']:.5f}", f"{g['n_areas']:,}")
        console.print(table)
        console.print(f"  · {t('gap_note', lang)}")

    console.print(f"[bold]{t('outputs', lang)}[/bold]")
    for path in files.values():
        console.print(f"  {path}")


@app.command()
def history(
    history_dir: Annotated[Path | None, typer.Option(
        "--history", help="运行历史目录 / history folder")] = None,
    results: Annotated[Path | None, typer.Option(
        "--results", "--out", "-o", help="某次运行的输出目录：列出其所在的运行历史 / a run's "
        "output folder: list the history it was recorded in")] = None,
    lang: Annotated[str, typer.Option("--lang", help="zh | en")] = "zh",
) -> None:
    """列出运行历史 / List the recorded runs.

    Without --history or --results: the histories found in the current folder (as
    'lifecircle report' finds them).
    """
    console = _console()
    try:
        if history_dir is not None:
            folders = [history_dir]
        elif results is not None:
            folders = [history_of_run(results)]
        else:
            folders = find_histories() or [Path("lifecircle-history")]
        found = [(h, h.runs()) for h in (History(f) for f in folders)]
    except LifecircleError as exc:
        _print_error(console, exc, lang)
        raise typer.Exit(code=2) from None
    for h, runs in found:
        if not runs:
            console.print(t("history_empty", lang))
            continue
        table = Table(title=f"{t('history_title', lang)}  {h.folder}" if len(found) > 1
                      else t("history_title", lang))
        for key in ("history_id", "history_date", "history_label", "study_area",
                    "history_version", "history_met"):
            table.add_column(t(key, lang))
        for r in runs:
            title = (r.area_title_zh if lang == "zh" else r.area_title_en) or r.area_name
            table.add_row(str(r.run_id), r.created_utc.replace("T", " ")[:16], r.label or "",
                          title, r.version, f"{r.n_met}/{r.n_targets}")
        console.print(table)


@app.command()
def report(
    out: Annotated[Path, typer.Option(
        "--out", "-o", help="报告目录（须为新目录）/ new report folder")] = Path("report"),
    run_dir: Annotated[Path | None, typer.Option(
        "--results", "--run", help="某次运行的输出目录（其运行历史见 run.json）/ a run's "
        "output folder (its history is found from its run.json)")] = None,
    area: Annotated[Path | None, typer.Option(
        "--area", "-a", help="研究区文件：取其最近一次记录的运行 / study-area file: "
        "its latest recorded run")] = None,
    ref: Annotated[str | None, typer.Option(
        "--from", help="历史中的运行编号或批次名称 / id or label of a recorded run")] = None,
    compare: Annotated[str | None, typer.Option(
        "--compare", help="与之对比的运行编号或批次名称 / id or label to compare with")] = None,
    history_dir: Annotated[Path | None, typer.Option(
        "--history", help="运行历史目录（默认：--results 记录的，或在当前目录中查找）/ "
        "history folder (default: the one --results names, or found here)")] = None,
    lang: Annotated[str, typer.Option("--lang", help="zh | en")] = "zh",
    no_pdf: Annotated[bool, typer.Option("--no-pdf", help="不生成PDF / no PDF")] = False,
    svg: Annotated[bool, typer.Option("--svg", help="另存SVG地图 / maps as SVG too")] = False,
    force: Annotated[bool, typer.Option(
        "--force", help="覆盖已有报告目录 / replace an existing report folder")] = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v")] = False,
) -> None:
    """生成评估报告 / Write the coverage report (HTML, PDF, Excel, GeoPackage, maps)."""
    if lang not in ("zh", "en"):
        raise typer.BadParameter("use 'zh' or 'en'", param_hint="--lang")
    # Imported here, not at the top, for start-up speed: the report stack (matplotlib,
    # openpyxl, ~0.5 s) is needed by this command only, not by every other command.
    from lifecircle.report import report_run

    console = _console()
    start = time.perf_counter()
    try:
        with logging_to_stderr(verbose, lang):
            job = report_run(out, history_dir=history_dir, run_dir=run_dir, area=area,
                             ref=ref, compare=compare, lang=lang, pdf=not no_pdf, svg=svg,
                             force=force)
    except LifecircleError as exc:
        _print_error(console, exc, lang)
        raise typer.Exit(code=2) from None
    if job.record is not None:
        console.print(t("report_of", lang, id=job.record.run_id, label=job.record.label or "",
                        path=job.history))
    if job.changed_inputs:
        console.print(f"[yellow]{t('inputs_changed', lang, n=len(job.changed_inputs))}[/yellow]")
        for p in job.changed_inputs:
            console.print(f"  {p}")
    c = job.comparison
    if c is not None:
        console.print(t("compare_summary", lang, then=c.then.run_id,
                        n=len(c.changed_targets), added=len(c.facilities_added),
                        removed=len(c.facilities_removed)))
    console.print(f"[bold]{t('outputs', lang)}[/bold]")
    for key in ("html", "pdf", "xlsx", "gpkg"):
        if key in job.files:
            console.print(f"  {job.files[key]}")
    console.print(f"  {out / 'maps'}")
    console.print(t("done", lang, s=time.perf_counter() - start))


@app.command()
def site(
    category: Annotated[str | None, typer.Option(
        "--category", "-c", help="设施类别 / facility category, e.g. kindergarten")] = None,
    area: Annotated[Path | None, typer.Option(
        "--area", "-a", help="研究区文件 / study-area TOML file (default: bundled sample)")] = None,
    add: Annotated[int | None, typer.Option(
        "--add", "-n", help="新增（或撤并）设施数 / number of sites to add (or close)")] = None,
    model: Annotated[str, typer.Option(
        "--model", "-m",
        help="mclp | lscp | p_median | p_center | capacitated | least_important | colocated",
    )] = "mclp",
    complex_: Annotated[str | None, typer.Option(
        "--complex", help="综合服务中心合设类别（逗号分隔），按生活圈完整度选址 / categories one "
        "service complex hosts, comma-separated (model colocated, scored on life-circle "
        "completeness)")] = None,
    threshold: Annotated[float | None, typer.Option(
        "--threshold", help="lscp 覆盖率目标 / share to reach (default: the target's)")] = None,
    target: Annotated[str | None, typer.Option(
        "--target", help="规划目标编号 / target id (default: the category's circle target)",
    )] = None,
    candidates: Annotated[Path | None, typer.Option(
        "--candidates", help="候选点/闲置地块文件 / candidate points or parcels "
        "(optional columns cost, capacity); default: street nodes")] = None,
    candidates_crs: Annotated[str | None, typer.Option(
        "--candidates-crs", help="候选文件坐标系 / CRS of a candidate file without one")] = None,
    budget: Annotated[float | None, typer.Option(
        "--budget", help="总预算 / total budget (needs a cost column or --cost-per-site)",
    )] = None,
    cost_per_site: Annotated[float | None, typer.Option(
        "--cost-per-site", help="每处候选点费用（候选文件无 cost 列时）/ cost of a candidate "
        "without its own cost")] = None,
    capacity: Annotated[float | None, typer.Option(
        "--capacity", help="新设施容量 / places per new site (capacitated)")] = None,
    existing_capacity: Annotated[float | None, typer.Option(
        "--existing-capacity",
        help="容量未知的现有设施按此计 / places of existing facilities of unknown capacity",
    )] = None,
    max_trip: Annotated[float | None, typer.Option(
        "--max-trip", help="p_median/p_center 计入的最远出行距离（米）/ trips counted up to "
        "this distance, m (default 1.5 × the target's reach)")] = None,
    spacing: Annotated[float, typer.Option(
        "--spacing", help="生成候选点间距（米）/ spacing of generated candidates, m")] = 150.0,
    method: Annotated[str, typer.Option(
        "--method", help="exact | greedy")] = "exact",
    time_limit: Annotated[float, typer.Option(
        "--time-limit", help="求解时限（秒）/ solver time limit, s")] = 60.0,
    out: Annotated[Path, typer.Option(
        "--out", "-o", help="输出目录 / output folder")] = Path("out"),
    lang: Annotated[str, typer.Option("--lang", help="zh | en")] = "zh",
    quiet: Annotated[bool, typer.Option(
        "--quiet", "-q", help="不显示进度 / no progress bars")] = False,
    verbose: Annotated[bool, typer.Option(
        "--verbose", "-v", help="显示处理日志 / log each step")] = False,
    no_cache: Annotated[bool, typer.Option(
        "--no-cache", help="不使用路网缓存 / rebuild networks")] = False,
) -> None:
    """选址 / Where the next facilities should go (writes sites.gpkg, sites.csv)."""
    # Imported here, not at the top, for start-up speed: site selection (the solvers,
    # ~0.1 s) is needed by this command only.
    from lifecircle.site import SiteProblem, check_problem, site_selection, write_sites

    if lang not in ("zh", "en"):
        raise typer.BadParameter("use 'zh' or 'en'", param_hint="--lang")
    console = _console()
    start = time.perf_counter()
    cats = tuple(c.strip() for c in (complex_ or "").split(",") if c.strip())
    if cats and model == "mclp":
        model = "colocated"  # --complex alone asks for complexes
    if category is None and not cats:
        raise typer.BadParameter("give --category (or --complex for service complexes)",
                                 param_hint="--category")
    problem = SiteProblem(category=category or "+".join(cats), model=model, n=add,
                          threshold=threshold, complex=cats,
                          target=target, candidates=candidates,
                          candidates_crs=candidates_crs, budget=budget,
                          cost_per_site=cost_per_site, capacity=capacity,
                          existing_capacity=existing_capacity, max_trip_m=max_trip,
                          spacing_m=spacing,
                          method=method, time_limit_s=time_limit)
    try:
        with logging_to_stderr(verbose, lang):
            study = load_study_area(area if area is not None else default_area_path())
            # a bad question or candidate file fails before the analysis runs
            check_problem(problem, boundary_lonlat=study_boundary(study))
            title = (study.title_zh if lang == "zh" else study.title_en) or study.name
            console.print(f"[bold]{t('running', lang, name=title)}[/bold]")
            result = run_pipeline(study, progress=not quiet, use_cache=not no_cache)
            answer = site_selection(result, problem)
            files = write_sites(answer, out)
    except LifecircleError as exc:
        console.print(f"[bold red]{t('error', 'zh')} / {t('error', 'en')}:[/bold red] {exc}")
        raise typer.Exit(code=2) from None
    print_sites(answer, files, lang=lang, console=console)
    console.print(t("done", lang, s=time.perf_counter() - start))


def print_sites(answer: SiteResult, files: dict[str, Path], *, lang: str = "zh",
                console: Console | None = None) -> None:
    """Print a siting answer: figures, the ranked sites, targets before and after."""
    console = console or _console()
    s = answer.summary
    p = answer.problem
    head = Table(title=t("site_title", lang, category=p.category,
                         model=t(f"site_model_{p.model}", lang), target=answer.target),
                 show_header=False)
    head.add_row(t("site_status", lang), t(f"site_status_{s['status']}", lang)
                 if f"site_status_{s['status']}" in MESSAGES else s["status"])
    head.add_row(t("site_n_sites", lang), str(s["n_sites"]))
    head.add_row(t("site_candidates", lang), f"{s['n_candidates']:,}")
    head.add_row(t("site_objective", lang), f"{s['objective']:,.2f}")
    head.add_row(t("site_bound", lang), f"{s['bound']:,.2f}")
    head.add_row(t("site_gap", lang), f"{s['gap']:.3%}")
    head.add_row(t("site_share_before", lang), f"{s['share_before']:.2%}")
    if np.isfinite(s["share_promised"]):
        head.add_row(t("site_share_promised", lang), f"{s['share_promised']:.2%}")
    if "mean_dist_m" in s:
        head.add_row(t("site_mean_dist", lang), f"{s['mean_dist_m']:,.0f}")
    if p.model == "p_center":
        head.add_row(t("site_worst_dist", lang), f"{s['objective']:,.0f}")
    console.print(head)
    if p.model == "p_center" and s.get("helpable_pop", 0) > 0:
        console.print(t("site_worst_change", lang, b=s["worst_before_m"], a=s["worst_after_m"],
                        pb=s["at_worst_before_pop"], pa=s["at_worst_after_pop"]))
    if p.model == "capacitated":
        console.print(t("site_served", lang, b=s["served_before"], a=s["served_after"]))
        console.print(t("site_placed_share", lang, group=s["group"],
                        b=s["placed_share_before"], a=s["placed_share_after"]))
    for zh, en in answer.notes:
        console.print(f"  · {zh if lang == 'zh' else en}")

    sites = answer.sites
    table = Table()
    unit_cols = [c for c in sites.columns if c.startswith("unit_name__")]
    id_col = "facility_id" if p.model == "least_important" else "site_id"
    value_col = "loss_alone_pop" if p.model == "least_important" else "marginal_pop"
    for key in ("site_rank", "site_id", "site_lonlat", "site_lonlat_gcj"):
        table.add_column(t(key, lang))
    if unit_cols:
        table.add_column(t("site_unit", lang))
    table.add_column(t("site_loss" if p.model == "least_important" else "site_marginal", lang),
                     justify="right")
    for r in sites.itertuples():
        row = [str(r.rank), str(getattr(r, id_col)), f"{r.lon:.6f}, {r.lat:.6f}",
               f"{r.lon_gcj02:.6f}, {r.lat_gcj02:.6f}"]
        if unit_cols:
            row.append(str(getattr(r, unit_cols[0]) or ""))
        row.append(f"{getattr(r, value_col):,.0f}")
        table.add_row(*row)
    console.print(table)

    if len(answer.targets):
        tt = Table(title=t("site_targets", lang))
        for key in ("id", "targets", "site_before", "site_after"):
            tt.add_column(t(key, lang) if key in MESSAGES else "ID")
        name = "name_zh" if lang == "zh" else "name_en"
        status = {"met": ("达标", "met"), "not_met": ("未达标", "not met"),
                  "no_data": ("无数据", "no data")}
        for r in answer.targets.itertuples():
            def fmt(v: float, st: str) -> str:
                label = status.get(st, (st, st))[0 if lang == "zh" else 1]
                return label if not np.isfinite(v) else f"{v:.2%} {label}"
            tt.add_row(r.id, getattr(r, name), fmt(r.value_before, r.status_before),
                       fmt(r.value_after, r.status_after))
        console.print(tt)
    console.print(f"[bold]{t('outputs', lang)}[/bold]")
    for path in files.values():
        console.print(f"  {path}")


def main() -> None:
    """Entry point of the ``lifecircle`` console script."""
    app()


if __name__ == "__main__":
    main()
