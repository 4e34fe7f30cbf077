"""Serving the dashboard: allowed hosts, login, roles, the production WSGI server.

- :func:`install_guards` rejects requests whose ``Host`` header is not an address the
  server is bound to (DNS rebinding), and, when a user file is given, answers every
  request without a valid session with HTTP 401 and a login form.
- :class:`UserFile` keeps users in a JSON file the administrator manages with
  ``lifecircle users add NAME --role editor|viewer``: werkzeug password hashes
  (scrypt), never passwords. Sessions are signed cookies that expire.
- :func:`serve_wsgi` runs waitress (pure Python, works on Windows too): no
  development-server warning, no request log unless asked for.
"""

from __future__ import annotations

import contextlib
import html
import ipaddress
import json
import logging
import os
import secrets
import socket
import tempfile
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from flask import Flask, Response, g, has_app_context, redirect, request, session
from waitress import serve
from werkzeug.exceptions import Forbidden
from werkzeug.security import check_password_hash, generate_password_hash

from access.errors import LifecircleError

__all__ = ["ROLES", "AuthError", "User", "UserFile", "allowed_hosts", "current_user",
           "default_users_path", "install_guards", "is_loopback", "require_editor",
           "serve_wsgi"]

log = logging.getLogger(__name__)

ROLES = ("editor", "viewer")
SESSION_HOURS = 8
_LOCAL = ("local", "editor")


class AuthError(LifecircleError, ValueError):
    """A user file, user name, role or password that cannot be used."""


@dataclass(frozen=True)
class User:
    """A user of the dashboard: ``name`` and ``role`` (``editor`` or ``viewer``)."""

    name: str
    role: str


def default_users_path() -> Path:
    """``$LIFECIRCLE_USERS``, else ``~/.config/lifecircle/users.json``."""
    env = os.environ.get("LIFECIRCLE_USERS")
    return Path(env) if env else Path.home() / ".config" / "lifecircle" / "users.json"


class UserFile:
    """Users and their password hashes in a JSON file (``{"users": {name: {...}}}``).

    Parameters
    ----------
    path
        The file; it need not exist until a user is added.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    def load(self) -> dict[str, dict[str, str]]:
        """Name -> ``{"hash", "role"}``; empty when the file does not exist.

        Raises
        ------
        AuthError
            The file is unreadable or not of that shape.
        """
        if not self.path.exists():
            return {}
        try:
            doc = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise AuthError(f"{self.path}: cannot read the user file ({exc})") from exc
        users = doc.get("users") if isinstance(doc, dict) else None
        if not isinstance(users, dict) or not all(
                isinstance(u, dict) and isinstance(u.get("hash"), str)
                and u.get("role") in ROLES for u in users.values()):
            raise AuthError(f"{self.path}: not a lifecircle user file")
        return users

    def _write(self, users: dict[str, dict[str, str]]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".users-", suffix=".json")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump({"users": users}, fh, ensure_ascii=False, indent=1)
            os.chmod(tmp, 0o600)
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def add(self, name: str, password: str, *, role: str) -> None:
        """Add or update user ``name`` with ``password`` (stored as a hash) and ``role``."""
        if not name or not name.isprintable() or len(name) > 64 or name.strip() != name:
            raise AuthError("a user name needs 1 to 64 printable characters, no outer spaces")
        if role not in ROLES:
            raise AuthError(f"role must be one of {', '.join(ROLES)}, got {role!r}")
        if len(password) < 8:
            raise AuthError("a password needs at least 8 characters")
        users = self.load()
        users[name] = {"hash": generate_password_hash(password), "role": role}
        self._write(users)

    def remove(self, name: str) -> bool:
        """Remove user ``name``; False when there was none."""
        users = self.load()
        if users.pop(name, None) is None:
            return False
        self._write(users)
        return True

    def check(self, name: str, password: str) -> User | None:
        """The user if ``password`` is right, else None."""
        u = self.load().get(name)
        if u is None or not check_password_hash(u["hash"], password):
            return None
        return User(name, u["role"])


def is_loopback(host: str) -> bool:
    """True for ``localhost`` and loopback IP addresses."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def allowed_hosts(host: str, port: int, extra: Iterable[str] = ()) -> set[str]:
    """``Host`` header values accepted for a server bound to ``host:port``.

    Loopback: ``127.0.0.1`` and ``localhost``. A wildcard bind (``0.0.0.0``, ``::``)
    accepts this machine's name, fully qualified name and addresses. ``extra`` adds
    names (e.g. an intranet DNS name).
    """
    names = {host}
    if is_loopback(host):
        names |= {"127.0.0.1", "localhost", "[::1]"}
    if host in ("0.0.0.0", "::", ""):
        hn = socket.gethostname()
        names |= {hn, socket.getfqdn()}
        with contextlib.suppress(OSError):
            names |= set(socket.gethostbyname_ex(hn)[2])
        names |= {"127.0.0.1", "localhost"}
    names |= set(extra)
    out = set()
    for n in names:
        n = n.lower()
        out.add(f"{n}:{port}")
        if port == 80:
            out.add(n)
    return out


def current_user() -> User:
    """The signed-in user of this request (``local`` editor when login is off)."""
    if not has_app_context():
        return User(*_LOCAL)
    u = getattr(g, "lc_user", None)
    return u if isinstance(u, User) else User(*_LOCAL)


def require_editor() -> User:
    """The current user if an editor.

    Raises
    ------
    werkzeug.exceptions.Forbidden
        A read-only user (HTTP 403).
    """
    u = current_user()
    if u.role != "editor":
        raise Forbidden("read-only user: saving scenarios needs the editor role / "
                        "只读用户不能保存情景")
    return u


_LOGIN_PAGE = """<!doctype html><html lang="zh"><head><meta charset="utf-8">
<title>lifecircle · 登录 / Sign in</title>
<style>body{{font-family:sans-serif;background:#f4f5f7;display:flex;justify-content:center;
margin-top:12vh}}form{{background:white;padding:24px 32px;border-radius:6px;
box-shadow:0 1px 4px #0002}}label{{display:block;margin-top:10px}}input{{width:16em}}
p.err{{color:#a00}}button{{margin-top:14px}}</style></head><body>
<form method="post" action="/login"><h2>15分钟生活圈 · 登录 / Sign in</h2>{message}
<label>用户名 / User <input name="user" autocomplete="username" autofocus></label>
<label>密码 / Password <input name="password" type="password"
autocomplete="current-password"></label>
<button type="submit">登录 / Sign in</button></form></body></html>"""


def _login_page(message: str, status: int) -> Response:
    msg = f'<p class="err">{html.escape(message)}</p>' if message else ""
    return Response(_LOGIN_PAGE.format(message=msg), status=status,
                    mimetype="text/html", headers={"Cache-Control": "no-store"})


def install_guards(server: Flask, *, hosts: set[str], users: UserFile | None,
                   session_hours: float = SESSION_HOURS, log_requests: bool = False) -> None:
    """Host check, login and (optionally) a request log on the Flask ``server``.

    Parameters
    ----------
    server
        The Dash app's Flask server.
    hosts
        Accepted ``Host`` header values (:func:`allowed_hosts`); others get HTTP 400.
    users
        User file; when given, every request needs a signed-in session (HTTP 401
        and a login form otherwise) and sessions expire after ``session_hours``.
    log_requests
        Log each request (method, path, status) at INFO level.
    """
    server.secret_key = secrets.token_bytes(32)
    server.config.update(SESSION_COOKIE_HTTPONLY=True, SESSION_COOKIE_SAMESITE="Strict",
                         PERMANENT_SESSION_LIFETIME=timedelta(hours=session_hours))
    limit_s = session_hours * 3600

    @server.before_request
    def _guard() -> Any:
        if request.host.lower() not in hosts:
            return Response("Bad Host header: this server answers only to its own address "
                            "/ 主机名不符", status=400, mimetype="text/plain")
        if users is None:
            return None
        if request.path == "/login":
            return _login(users)
        name, role, since = session.get("user"), session.get("role"), session.get("since", 0)
        if not name or role not in ROLES or time.time() - float(since) > limit_s:
            session.clear()
            if request.method == "GET" and "text/html" in request.headers.get("Accept", ""):
                return _login_page("", 401)
            return Response("Unauthorised: sign in at /login / 请先登录", status=401,
                            mimetype="text/plain")
        g.lc_user = User(name, role)
        return None

    if log_requests:
        @server.after_request
        def _log(resp: Response) -> Response:
            log.info("%s %s %s", request.method, request.path, resp.status_code)
            return resp

    def _login(uf: UserFile) -> Any:
        if request.method == "GET":
            return _login_page("", 200)
        name = request.form.get("user", "")
        user = uf.check(name, request.form.get("password", ""))
        if user is None:
            time.sleep(0.5)
            return _login_page("用户名或密码错误 / wrong user or password", 401)
        session.clear()
        session.permanent = True
        session.update(user=user.name, role=user.role, since=time.time())
        return redirect("/", code=303)

    @server.route("/logout")
    def _logout() -> Any:
        session.clear()
        return redirect("/login", code=303)


def serve_wsgi(server: Flask, *, host: str, port: int, threads: int = 12) -> None:
    """Serve ``server`` with waitress until interrupted."""
    logging.getLogger("waitress.queue").setLevel(logging.ERROR)
    serve(server, host=host, port=port, threads=threads, ident="lifecircle",
          clear_untrusted_proxy_headers=True)
