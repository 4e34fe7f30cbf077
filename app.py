"""The ``lifecircle`` command and ``python app.py``: the top of the stack.

:func:`cli` is the ``lifecircle`` console script: the library's commands
(:mod:`lifecircle.cli`) plus ``serve`` (the dashboard, :mod:`dashboards.shell`) and
``users``, so that the library never imports the dashboard. ``python app.py``
serves the dashboard (:func:`dashboards.shell.main`).

This module imports only what every command needs. Each command imports its own
stack when it runs: ``lifecircle run`` does not load Dash, and a partitioned run
starts its worker processes (:func:`lifecircle.workers.start_worker_server`) and its
local cluster (:func:`lifecircle.workers.start_cluster_early`) before the library is
imported, so that they start while this process loads it. ``create_app``,
``serve``, ``main``, ``DEFAULT_HOST`` and ``DEFAULT_PORT`` are those of
:mod:`dashboards.shell`, loaded on first use.
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from lifecircle.workers import start_cluster_early, start_worker_server, starts_local_workers

if TYPE_CHECKING:  # the names loaded on first use below, for type checkers
    from dashboards.shell import DEFAULT_HOST, DEFAULT_PORT, create_app, main, serve

__all__ = ["DEFAULT_HOST", "DEFAULT_PORT", "cli", "create_app", "main", "serve"]

#: Names of :mod:`dashboards.shell` this module gives on first use (PEP 562).
_SHELL = frozenset(("DEFAULT_HOST", "DEFAULT_PORT", "create_app", "main", "serve"))


def __getattr__(name: str) -> Any:
    """``app.create_app`` etc.: :mod:`dashboards.shell`'s, imported on first use."""
    if name not in _SHELL:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module("dashboards.shell"), name)


def serve_command(
    out: Annotated[Path, typer.Option(
        "--results", "--out", "-o",
        help="已完成运行的结果目录（直接打开，不重新计算）/ folder of a finished run "
        "(opened as it is, nothing is recomputed)")] = Path("out"),
    area: Annotated[Path | None, typer.Option(
        "--area", "-a", help="研究区文件：打开它在结果目录中的运行，没有则先运行一次 / "
        "study-area file: opens its run in the results folder, running it once first "
        "when there is none")] = None,
    host: Annotated[str, typer.Option("--host", help="监听地址 / bind address")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="端口 / port")] = 8050,
    debug: Annotated[bool, typer.Option("--debug", help="Dash 调试模式 / debug mode")] = False,
    tiles: Annotated[str | None, typer.Option(
        "--tiles", help="内网瓦片服务 URL 模板 / raster tile URL template")] = None,
    lang: Annotated[str, typer.Option("--lang", help="zh | en")] = "zh",
    quiet: Annotated[bool, typer.Option(
        "--quiet", "-q", help="不显示进度 / no progress bars")] = False,
    users: Annotated[Path | None, typer.Option(
        "--users", help="用户文件（非本机地址时必需）/ user file (required beyond loopback)")
    ] = None,
    allowed_host: Annotated[list[str] | None, typer.Option(
        "--allowed-host", help="另外接受的主机名 / extra Host name to accept")] = None,
    log_requests: Annotated[bool, typer.Option(
        "--log-requests", help="记录每个请求 / log every request")] = False,
) -> None:
    """打开看板 / Serve the planners' dashboard on a finished run's results.

    The results are read as they are (nothing is recomputed). With --area, the study
    area is run into the results folder once first when that folder holds no
    finished run of it; without --area, a new or empty folder gets the bundled sample.
    """
    if lang not in ("zh", "en"):
        raise typer.BadParameter("use 'zh' or 'en'", param_hint="--lang")
    # Dash and the dashboard are imported by this command only (seconds of start-up
    # every other command does not pay)
    from dashboards.shell import serve
    from lifecircle.cli import logging_to_stderr

    with logging_to_stderr(False, lang):
        code = serve(out_dir=out, area=area, host=host, port=port, debug=debug,
                     tiles_url=tiles, lang=lang, progress=not quiet, users=users,
                     extra_hosts=tuple(allowed_host or ()), log_requests=log_requests)
    if code:
        raise typer.Exit(code=code)


users_app = typer.Typer(help="看板用户 / dashboard users (login beyond loopback)",
                        no_args_is_help=True)
_USERS_OPT = typer.Option("--users", help="用户文件 / user file (default: "
                          "$LIFECIRCLE_USERS or ~/.config/lifecircle/users.json)")


@users_app.command("add")
def users_add(
    name: Annotated[str, typer.Argument(help="用户名 / user name")],
    role: Annotated[str, typer.Option("--role", help="editor | viewer")] = "viewer",
    users: Annotated[Path | None, _USERS_OPT] = None,
    password: Annotated[str | None, typer.Option(
        "--password", help="密码（缺省时提示输入）/ password (prompted when omitted)",
        envvar="LIFECIRCLE_PASSWORD")] = None,
) -> None:
    """添加或更新用户 / Add or update a user (the password is stored as a hash)."""
    from dashboards.server import ROLES, AuthError, UserFile, default_users_path

    if role not in ROLES:
        raise typer.BadParameter(f"use one of {', '.join(ROLES)}", param_hint="--role")
    pw = password if password is not None else typer.prompt(
        "密码 / Password", hide_input=True, confirmation_prompt=True)
    uf = UserFile(users if users is not None else default_users_path())
    try:
        uf.add(name, pw, role=role)
    except AuthError as exc:
        print(f"错误 / Error: {exc}", file=sys.stderr)
        raise typer.Exit(code=2) from None
    print(f"lifecircle: {name} ({role}) → {uf.path}", file=sys.stderr)


@users_app.command("remove")
def users_remove(name: Annotated[str, typer.Argument(help="用户名 / user name")],
                 users: Annotated[Path | None, _USERS_OPT] = None) -> None:
    """删除用户 / Remove a user."""
    from dashboards.server import UserFile, default_users_path

    uf = UserFile(users if users is not None else default_users_path())
    if not uf.remove(name):
        print(f"错误 / Error: no user {name!r} in {uf.path}", file=sys.stderr)
        raise typer.Exit(code=2)


@users_app.command("list")
def users_list(users: Annotated[Path | None, _USERS_OPT] = None) -> None:
    """列出用户 / List users and roles."""
    from dashboards.server import UserFile, default_users_path

    uf = UserFile(users if users is not None else default_users_path())
    for name, u in sorted(uf.load().items()):
        print(f"{name}\t{u['role']}")


def cli() -> None:
    """Entry point of the ``lifecircle`` console script: the library's commands, ``serve``
    and ``users``."""
    if starts_local_workers(sys.argv[1:]):
        start_worker_server()
        start_cluster_early(sys.argv[1:])
    # the library is imported now, after the workers of a partitioned run started
    from lifecircle.cli import app as cli_app

    cli_app.command("serve")(serve_command)
    cli_app.add_typer(users_app, name="users")
    cli_app()


if __name__ == "__main__":
    sys.exit(importlib.import_module("dashboards.shell").main())
