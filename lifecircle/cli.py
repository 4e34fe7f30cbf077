"""The ``lifecircle`` command.

``lifecircle run`` analyses a study area (the bundled central-Chengdu sample when no
``--area`` is given) and writes its results to ``--out``; ``lifecircle serve`` opens
the dashboard on the last run's study area. Errors in the input are
reported in one line naming the file, the row and the parameter, without a traceback.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import numpy as np
import typer
from rich.console import Console
from rich.table import Table

from access.errors import LifecircleError
from access.i18n import MESSAGES, t
from access.targets import format_summary
from access.travel import dist_to_time_min
from lifecircle.pipeline import RunResult, write_outputs
from lifecircle.pipeline import run as run_pipeline
from lifecircle.study_area import default_area_path, load_study_area
from lifecircle.summary import access_table, population_rows

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="lifecircle: 公共服务设施可达性分析 / accessibility of public services.")


def _console() -> Console:
    return Console(highlight=False, soft_wrap=False, width=120)


class _QuietCompleteness(logging.Filter):
    """Completeness warnings have their own table in the summary: keep them off stderr."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.name != "facilities.completeness" or record.levelno >= logging.ERROR


@contextmanager
def logging_to_stderr(verbose: bool) -> Iterator[None]:
    """Log to stderr while the command runs; restore the logging set-up afterwards."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    if not verbose:
        handler.addFilter(_QuietCompleteness())
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO if verbose else logging.WARNING)
    try:
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
) -> None:
    """运行分析 / Run the analysis and write results."""
    if lang not in ("zh", "en"):
        raise typer.BadParameter("use 'zh' or 'en'", param_hint="--lang")
    console = _console()
    start = time.perf_counter()
    try:
        with logging_to_stderr(verbose):
            study = load_study_area(area if area is not None else default_area_path())
            title = (study.title_zh if lang == "zh" else study.title_en) or study.name
            console.print(f"[bold]{t('running', lang, name=title)}[/bold]")
            result = run_pipeline(study, progress=not quiet, use_cache=not no_cache)
            files = write_outputs(result, out)
    except LifecircleError as exc:
        console.print(f"[bold red]{t('error', 'zh')} / {t('error', 'en')}:[/bold red] {exc}")
        raise typer.Exit(code=2) from None
    print_summary(result, files, lang=lang, console=console)
    console.print(t("done", lang, s=time.perf_counter() - start))


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
    for key in ("mode", "nodes", "arcs", "dropped_nodes"):
        net.add_column(t(key, lang), justify="right" if key != "mode" else "left")
    for mode, n in r.networks.items():
        net.add_row(t(mode, lang), f"{n.n_nodes:,}", f"{n.n_arcs:,}",
                    f"{n.report['nodes_dropped']:,}")
    console.print(net)

    pop = Table(title=t("population", lang))
    pop.add_column(t("group", lang))
    pop.add_column(t("persons", lang), justify="right")
    for label, value in population_rows(r, lang=lang):
        pop.add_row(label, f"{value:,.0f}")
    console.print(pop)
    for zh, en in r.population.notes:
        console.print(f"  · {zh if lang == 'zh' else en}")

    acc = Table(title=t("travel", lang))
    for key, just in (("category", "left"), ("count", "right"), ("unreachable", "right"),
                      ("median_time", "right"), ("within_5", "right"),
                      ("within_10", "right"), ("within_15", "right")):
        acc.add_column(t(key, lang), justify=just)
    limit_min = dist_to_time_min(r.area.travel.max_walk_dist_m,
                                 r.area.travel.walk_speed_kmh["total"])
    for row in access_table(r, lang=lang):
        med = row["median_min"]
        acc.add_row(row["label"], str(row["count"]), str(row["unreachable"]),
                    "–" if np.isnan(med) else (f"> {limit_min:.0f}" if np.isinf(med)
                                               else f"{med:.1f}"),
                    *(f"{row[k]:.1%}" for k in ("within_5", "within_10", "within_15")))
    console.print(acc)

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

    console.print(f"[bold]{t('outputs', lang)}[/bold]")
    for path in files.values():
        console.print(f"  {path}")


def main() -> None:
    """Entry point of the ``lifecircle`` console script."""
    app()


if __name__ == "__main__":
    main()
