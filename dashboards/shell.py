"""The Dash app of the planners' dashboard and the server that runs it.

:func:`create_app` builds the Dash app (pages from ``dashboards/pages``, navbar
from ``dash.page_registry``, language switch) around a loaded run; :func:`serve`
opens a finished run folder and serves it with waitress; :func:`main` is the
command line of ``python app.py``. The ``lifecircle serve`` command (``app.py``)
calls :func:`serve`.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path
from typing import Any

import dash
import typer
from dash import ALL, Dash, Input, Output, State, callback, dcc, html

from access.errors import LifecircleError
from dashboards.callbacks import who
from dashboards.components import TR_TYPE, translate_all
from dashboards.i18n import tr
from dashboards.opened import OpenedRun, open_run
from dashboards.server import (
    AuthError,
    UserFile,
    allowed_hosts,
    default_users_path,
    install_guards,
    is_loopback,
    serve_wsgi,
)
from dashboards.state import DashboardState, ServePlan, get_state, serve_plan, set_state
from lifecircle.cli import run as cli_run

__all__ = ["DEFAULT_HOST", "DEFAULT_PORT", "create_app", "main", "serve"]

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8050
PAGES_DIR = Path(__file__).resolve().parent / "pages"

log = logging.getLogger(__name__)


#: Milliseconds after the first page is drawn at which plotly.js is loaded.
PRELOAD_MS = 300


def create_app(result: Any, *, tiles_url: str | None = None, lang: str = "zh",
               out_dir: str | Path | None = None, opened: OpenedRun | None = None) -> Any:
    """The Dash app showing ``result`` (an :class:`lifecircle.pipeline.RunResult`).

    Parameters
    ----------
    result
        The run; kept in server memory.
    tiles_url
        Raster tile URL template (``https://.../{z}/{x}/{y}.png``) of a tile server
        on the intranet; without it the maps draw no internet tiles.
    lang
        Initial language, ``"zh"`` or ``"en"``.
    out_dir
        Results folder; saved scenarios are kept beside it
        (``<folder>.scenarios.sqlite``).
    opened
        The run folder ``result`` was read from (:func:`dashboards.opened.open_run`):
        its walking network and the joins to it start loading in the background once
        the first page is served; the other networks when a what-if first needs them.
    """
    if lang not in ("zh", "en"):
        raise ValueError(f"lang must be 'zh' or 'en', got {lang!r}")
    set_state(DashboardState(result, tiles_url=tiles_url,
                             out_dir=Path(out_dir) if out_dir is not None else None,
                             opened=opened))
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
                html.Nav(links, className="lc-navbar"),
                html.Span(who(lg), className="lc-user", id="app-user")]

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
        # plotly.js loads while the first page is read (a hidden graph, shortly after
        # that page is drawn), not when a map is first opened: its parse took most of
        # a second of the map page
        dcc.Interval(id="app-preload-timer", interval=PRELOAD_MS, max_intervals=1),
        html.Div(id="app-preload", style={"display": "none"}),
    ])
    callback(Output("app-preload", "children"), Input("app-preload-timer", "n_intervals"),
             prevent_initial_call=True)(
        lambda _n: dcc.Graph(id="app-plotly-preload", config={"staticPlot": True}))
    callback(Output("app-navbar", "children"), Input("app-lang", "value"))(navbar)
    callback(Output({"type": TR_TYPE, "key": ALL}, "children"), Input("app-lang", "value"),
             State({"type": TR_TYPE, "key": ALL}, "id"))(
        lambda lang_value, ids: translate_all(ids, lang_value))
    state = get_state()

    @app.server.after_request
    def _warm(resp: Any) -> Any:
        # once a page is served, what-if's walking network and joins load in the
        # background, so the first edit does not wait for them (start is not delayed)
        if resp.mimetype == "text/html" and resp.status_code == 200:
            state.warm()
        return resp

    return app


def _auth_setup(host: str, users: str | Path | None) -> UserFile | None:
    """The user file to require, or None on loopback without one.

    Raises
    ------
    AuthError
        A non-loopback address without users: says how to add them.
    """
    path = Path(users) if users is not None else default_users_path()
    if is_loopback(host) and users is None:
        return None
    uf = UserFile(path)
    if not uf.load():
        raise AuthError(
            f"serving on {host} (beyond this machine) needs a login, but {path} holds no "
            f"users. Add one with: lifecircle users add NAME --role editor --users {path} "
            f"/ 在本机以外提供服务须先建立用户：lifecircle users add 用户名 --role editor "
            f"--users {path}")
    return uf


def _run_once(plan: ServePlan, *, lang: str, progress: bool) -> int:
    """``lifecircle run --area AREA --out RESULTS`` (its summary, history and lock)."""
    try:
        cli_run(area=plan.area, out=plan.results, lang=lang, quiet=not progress)
    except typer.Exit as exc:
        return int(exc.exit_code or 0)
    return 0


def serve(*, out_dir: str | Path = "out", area: str | Path | None = None,
          host: str = DEFAULT_HOST, port: int = DEFAULT_PORT, debug: bool = False,
          tiles_url: str | None = None, lang: str = "zh", progress: bool = True,
          users: str | Path | None = None, extra_hosts: tuple[str, ...] = (),
          log_requests: bool = False, threads: int = 12) -> int:
    """Open the finished run in ``out_dir`` and serve the dashboard until interrupted.

    Nothing is recomputed when ``out_dir`` holds a finished run (of ``area``, when
    given); otherwise the study area (``area``, or the bundled sample when
    ``out_dir`` is new or empty) is run into ``out_dir`` once first
    (:func:`dashboards.state.serve_plan`). The server is waitress (a production WSGI
    server). Beyond loopback a user file is required (see
    :func:`dashboards.server.install_guards`); requests whose ``Host`` header is not
    this server's address are refused.

    Returns the process exit code: 2 when the results cannot be opened, the study
    area cannot be run or the login is not set up (the message is printed, not a
    traceback).
    """
    start = time.perf_counter()
    try:
        uf = _auth_setup(host, users)
        plan = serve_plan(out_dir, area)
        print(f"lifecircle: {plan.message[0] if lang == 'zh' else plan.message[1]}",
              file=sys.stderr)
        if plan.warning is not None:
            print(f"注意 / Note: {plan.warning[0] if lang == 'zh' else plan.warning[1]}",
                  file=sys.stderr)
        if plan.action == "run":
            code = _run_once(plan, lang=lang, progress=progress)
            if code:
                return code
        opened = open_run(plan.results)
    except LifecircleError as exc:
        print(f"错误 / Error: {exc}", file=sys.stderr)
        return 2
    app = create_app(opened.result, tiles_url=tiles_url, lang=lang, out_dir=plan.results,
                     opened=opened)
    install_guards(app.server, hosts=allowed_hosts(host, port, extra_hosts), users=uf,
                   log_requests=log_requests)
    n, secs = len(opened.result.cells), time.perf_counter() - start
    url = (f"http://{'127.0.0.1' if host in ('0.0.0.0', '::') else host}:{port}/"
           + ("" if uf is None else f" (login: {uf.path})"))
    print(f"lifecircle: {n:,} 个网格，用时 {secs:.1f} 秒；{url}" if lang == "zh" else
          f"lifecircle: {n:,} cells, {secs:.1f} s; {url}", file=sys.stderr)
    if debug:
        app.run(host=host, port=port, debug=True)
    else:
        serve_wsgi(app.server, host=host, port=port, threads=threads)
    return 0


def main(argv: list[str] | None = None) -> int:
    """Command line of ``python app.py``."""
    parser = argparse.ArgumentParser(
        prog="app.py", description="lifecircle dashboard / 公共服务可达性看板")
    parser.add_argument("--results", "--out", dest="out", default="out",
                        help="folder of a finished run, opened as it is")
    parser.add_argument("--area", default=None,
                        help="study-area TOML file: its run in --results is opened, run "
                        "once first when there is none")
    parser.add_argument("--host", default=DEFAULT_HOST)
    parser.add_argument("--port", type=int, default=DEFAULT_PORT)
    parser.add_argument("--debug", action="store_true", help="Dash debug mode (off by default)")
    parser.add_argument("--tiles", default=None, help="raster tile URL template (intranet)")
    parser.add_argument("--lang", default="zh", choices=("zh", "en"))
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    parser.add_argument("--users", default=None, help="user file (required beyond loopback)")
    parser.add_argument("--allowed-host", action="append", default=[],
                        help="extra Host header name to accept (repeatable)")
    parser.add_argument("--log-requests", action="store_true", help="log every request")
    parser.add_argument("--threads", type=int, default=12, help="server threads")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.log_requests else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    return serve(out_dir=args.out, area=args.area, host=args.host, port=args.port,
                 debug=args.debug, tiles_url=args.tiles, lang=args.lang,
                 progress=not args.quiet, users=args.users,
                 extra_hosts=tuple(args.allowed_host), log_requests=args.log_requests,
                 threads=args.threads)
