"""The planners' dashboard: ``python app.py [--out DIR] [--area FILE] [--port N]``.

A thin shell: :func:`create_app` builds the Dash app (pages from
``dashboards/pages``, navbar from ``dash.page_registry``, language switch) around a
loaded run; :func:`serve` loads the run and starts the server; :func:`main` parses
the command line. It is also the top of the ``lifecircle`` command: :func:`cli` is
the library's command (:mod:`lifecircle.cli`) plus ``lifecircle serve``, so that the
library never imports the dashboard.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from access.errors import LifecircleError
from dashboards.components import TR_TYPE, translate_all
from dashboards.i18n import tr
from dashboards.state import DashboardState, area_path_for, load_result, set_state
from lifecircle.cli import app as cli_app
from lifecircle.cli import logging_to_stderr

__all__ = ["DEFAULT_HOST", "DEFAULT_PORT", "cli", "create_app", "main", "serve"]

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8050
PAGES_DIR = Path(__file__).resolve().parent / "dashboards" / "pages"

log = logging.getLogger(__name__)


def create_app(result: Any, *, tiles_url: str | None = None, lang: str = "zh") -> Any:
    """The Dash app showing ``result`` (an :class:`lifecircle.pipeline.RunResult`).

    Parameters
    ----------
    result
        The loaded run; kept in server memory for the what-if page.
    tiles_url
        Raster tile URL template (``https://.../{z}/{x}/{y}.png``) of a tile server
        on the intranet; without it the maps draw no internet tiles.
    lang
        Initial language, ``"zh"`` or ``"en"``.
    """
    import dash
    from dash import ALL, Dash, Input, Output, State, callback, dcc, html


    if lang not in ("zh", "en"):
        raise ValueError(f"lang must be 'zh' or 'en', got {lang!r}")
    set_state(DashboardState(result, tiles_url=tiles_url))
    app = Dash(__name__, use_pages=True, pages_folder=str(PAGES_DIR),
               suppress_callback_exceptions=True, title="lifecircle",
               assets_folder=str(PAGES_DIR.parent / "assets"))
    area = result.area

    def navbar(lang_value: str) -> list[Any]:
        lg = lang_value if lang_value in ("zh", "en") else "zh"
        title = (area.title_zh if lg == "zh" else area.title_en) or area.name
        links = [dcc.Link(tr(p.get("label_key", "page_overview"), lg), href=p["relative_path"],
                          id=f"app-nav-{p['module'].rsplit('.', 1)[-1]}", className="lc-nav")
                 for p in dash.page_registry.values()]
        return [html.Span(tr("app_title", lg), className="lc-title"),
                html.Span(f"{tr('study_area', lg)}: {title}", className="lc-area"),
                html.Nav(links, className="lc-navbar")]

    app.layout = html.Div([
        dcc.Store(id="app-edits", storage_type="session", data=[]),
        dcc.Store(id="app-saved", storage_type="session", data={}),
        dcc.Store(id="app-scenario-name", storage_type="session"),
        html.Header([
            html.Div(navbar(lang), id="app-navbar", className="lc-header-left"),
            dcc.RadioItems(id="app-lang", value=lang, inline=True, persistence=True,
                           persistence_type="local", className="lc-lang",
                           options=[{"label": "中文", "value": "zh"},
                                    {"label": "English", "value": "en"}]),
        ], className="lc-header"),
        html.Main(dash.page_container),
    ])
    callback(Output("app-navbar", "children"), Input("app-lang", "value"))(navbar)
    callback(Output({"type": TR_TYPE, "key": ALL}, "children"), Input("app-lang", "value"),
             State({"type": TR_TYPE, "key": ALL}, "id"))(
        lambda lang_value, ids: translate_all(ids, lang_value))
    return app


def serve(*, out_dir: str | Path = "out", area: str | Path | None = None,
          host: str = DEFAULT_HOST, port: int = DEFAULT_PORT, debug: bool = False,
          tiles_url: str | None = None, lang: str = "zh", progress: bool = True) -> int:
    """Load the last run (or ``area``) and serve the dashboard until interrupted.

    Returns the process exit code: 2 when the study area cannot be loaded (the
    library's message is printed, not a traceback).
    """
    try:
        path = area_path_for(out_dir, area)
        print(f"lifecircle: {path}", file=sys.stderr)
        result = load_result(out_dir=out_dir, area=area, progress=progress)
    except LifecircleError as exc:
        print(f"错误 / Error: {exc}", file=sys.stderr)
        return 2
    app = create_app(result, tiles_url=tiles_url, lang=lang)
    print(f"lifecircle: http://{host}:{port}/", file=sys.stderr)
    app.run(host=host, port=port, debug=debug)
    return 0


def main(argv: list[str] | None = None) -> int:
    """Command line of ``python app.py``."""
    parser = argparse.ArgumentParser(
        prog="app.py", description="lifecircle dashboard / 公共服务可达性看板")
    parser.add_argument("--out", default="out", help="output folder of `lifecircle run`")
    parser.add_argument("--area", default=None, help="study-area TOML file (overrides --out)")
    parser.add_argument("--host", default=DEFAULT_HOST)
    parser.add_argument("--port", type=int, default=DEFAULT_PORT)
    parser.add_argument("--debug", action="store_true", help="Dash debug mode (off by default)")
    parser.add_argument("--tiles", default=None, help="raster tile URL template (intranet)")
    parser.add_argument("--lang", default="zh", choices=("zh", "en"))
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    return serve(out_dir=args.out, area=args.area, host=args.host, port=args.port,
                 debug=args.debug, tiles_url=args.tiles, lang=args.lang,
                 progress=not args.quiet)


def serve_command(
    out: Annotated[Path, typer.Option(
        "--out", "-o", help="上次运行的输出目录 / output folder of the last run")] = Path("out"),
    area: Annotated[Path | None, typer.Option(
        "--area", "-a", help="研究区文件，优先于 --out / study-area file (overrides --out)")
    ] = None,
    host: Annotated[str, typer.Option("--host", help="监听地址 / bind address")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="端口 / port")] = 8050,
    debug: Annotated[bool, typer.Option("--debug", help="Dash 调试模式 / debug mode")] = False,
    tiles: Annotated[str | None, typer.Option(
        "--tiles", help="内网瓦片服务 URL 模板 / raster tile URL template")] = None,
    lang: Annotated[str, typer.Option("--lang", help="zh | en")] = "zh",
    quiet: Annotated[bool, typer.Option(
        "--quiet", "-q", help="不显示进度 / no progress bars")] = False,
) -> None:
    """打开看板 / Serve the planners' dashboard on the last run's study area."""
    if lang not in ("zh", "en"):
        raise typer.BadParameter("use 'zh' or 'en'", param_hint="--lang")
    with logging_to_stderr(False):
        code = serve(out_dir=out, area=area, host=host, port=port, debug=debug,
                         tiles_url=tiles, lang=lang, progress=not quiet)
    if code:
        raise typer.Exit(code=code)


def cli() -> None:
    """Entry point of the ``lifecircle`` console script: the library's commands and ``serve``."""
    cli_app.command("serve")(serve_command)
    cli_app()


if __name__ == "__main__":
    sys.exit(main())
