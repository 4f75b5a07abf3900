"""Arbitrary SQL gets a small share of the server, so it never stalls the canned queries and pages.

A request carrying SQL written by the visitor (``?sql=`` on a database, ``?_where=`` on a table) is
- stopped after TIME_LIMIT_MS (Datasette's own ``_timelimit``, which can only lower sql_time_limit_ms);
- refused at once with HTTP 429 and ``Retry-After`` while AT_ONCE such requests are already running, or while
  queries stopped by the time limit have used up their share of time: SHARE of one thread on average, with
  bursts of up to BURST_S (a query that finishes in time costs nothing: its time depends on the machine's load
  as much as on the query).
So at most one of the num_sql_threads threads is busy with arbitrary SQL, and only a twentieth of the time: the
others, and the CPU, stay free for the canned queries and pages. Queries that finish in time never touch the
share; a visitor who floods the site with slow ones gets 429s, and so, while it lasts, does everyone's
arbitrary SQL (the canned queries and pages never do). Thirty slow queries sent at once stalled the canned
queries for 41 s before this (issue 15); benchmarks/load.py measures it.

With SPAWN_ENV=1 (`predictions serve` and the published container set it), `datasette serve` starts a second
Datasette of the same site on a Unix socket, at the lowest CPU priority, and the requests let through are
answered by that process instead of this one: a query that runs for its whole time limit then shares nothing
with the canned queries but the CPU, and gets it last (in this process it held up their threads and the event
loop, which compete with it for the interpreter: Datasette checks the time limit in Python every 1,000 SQLite
instructions). If that process cannot be reached, the answer is 503. It ends with this one.
"""

import atexit
import ctypes
import json
import math
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from urllib.parse import parse_qsl

import httpx
from datasette import hookimpl

AT_ONCE = 1
TIME_LIMIT_MS = 1000
SHARE = 0.05  # seconds of arbitrary SQL stopped by the time limit per second, on average
BURST_S = 2.0  # seconds of it that may run back to back before SHARE applies
ARBITRARY = ("sql", "_where")
SPAWN_ENV = "PREDICTIONS_SQL_PROCESS"  # "1": answer visitors' SQL from a second Datasette
SOCKET_ENV = "PREDICTIONS_SQL_SOCKET"  # where that Datasette listens (set by startup below)
FOLDER_PREFIX = "predictions-sql-"  # + the site's pid: the socket's folder in the temporary folder
HOP_BY_HOP = {b"connection", b"keep-alive", b"transfer-encoding", b"content-length"}


def normal(sql):
    return " ".join(sql.split())


def declared(metadata):
    """The SQL the site itself declares: its canned queries and its dashboards' charts (which datasette-dashboards
    fetches with ?sql=): not written by a visitor, so never limited."""
    found = {q.get("sql") for db in (metadata.get("databases") or {}).values()
             for q in (db.get("queries") or {}).values() if isinstance(q, dict)}
    for board in ((metadata.get("plugins") or {}).get("datasette-dashboards") or {}).values():
        found |= {c.get("query") for c in (board.get("charts") or {}).values() if isinstance(c, dict)}
    return {normal(q) for q in found if q}


def arbitrary(scope, site_sql=frozenset()):
    """Whether the request runs SQL the visitor wrote (not one of the site's own queries)."""
    pairs = parse_qsl(scope["query_string"].decode("utf-8", "replace")) if scope["type"] == "http" else []
    return any(k == "_where" or (k == "sql" and normal(v) not in site_sql) for k, v in pairs)


def limited_query(query_string):
    """The raw query string with ``_timelimit`` set to at most TIME_LIMIT_MS (a lower one asked for is kept)."""
    parts = query_string.split(b"&")
    asked = [int(p[11:]) for p in parts if p.startswith(b"_timelimit=") and p[11:].isdigit()]
    kept = [p for p in parts if p and p.split(b"=")[0] != b"_timelimit"]
    return b"&".join([*kept, b"_timelimit=%d" % min([TIME_LIMIT_MS, *asked])])


class Share:
    """The time arbitrary SQL may still use: refilled at SHARE per second up to BURST_S, spent as it runs."""

    def __init__(self):
        self.left, self.at, self.running = BURST_S, time.monotonic(), 0

    def refill(self):
        now = time.monotonic()
        self.left, self.at = min(BURST_S, self.left + (now - self.at) * SHARE), now

    def wait_s(self):
        """0 when a query may start now, else the seconds to wait."""
        self.refill()
        if self.running >= AT_ONCE:
            return 1
        if self.left > 0:
            return 0
        return (math.ceil(-self.left / SHARE) or 1) if SHARE > 0 else 60


async def refuse(scope, send, status, title, message, wait):
    as_json = scope["path"].endswith(".json")
    body = json.dumps({"ok": False, "error": message, "status": status, "title": title}) if as_json else message
    await send({"type": "http.response.start", "status": status, "headers": [
        (b"content-type", b"application/json; charset=utf-8" if as_json else b"text/plain; charset=utf-8"),
        (b"retry-after", str(wait).encode()), (b"access-control-allow-origin", b"*")]})
    await send({"type": "http.response.body", "body": body.encode("utf-8")})


async def busy(scope, send, wait):
    await refuse(scope, send, 429, "Too many requests",
                 f"Too many SQL queries: queries written by visitors run one at a time and share {SHARE:.0%} of the "
                 f"server's time. Try again in {wait} s.", wait)


def forwarder(socket):
    """An ASGI app answering a GET from the Datasette listening on `socket` (same site, same database)."""
    # idle connections are dropped before the other side's (uvicorn keeps them 5 s), so none is reused as it closes
    transport = httpx.AsyncHTTPTransport(uds=socket, limits=httpx.Limits(keepalive_expiry=2.0), retries=1)
    client = httpx.AsyncClient(transport=transport, base_url="http://sql", timeout=httpx.Timeout(TIME_LIMIT_MS / 1000 + 30))

    async def forward(scope, receive, send):
        path = scope.get("raw_path") or scope["path"].encode()
        headers = [(k, v) for k, v in scope["headers"] if k.lower() not in HOP_BY_HOP]
        try:
            response = await client.get(httpx.URL(path.decode("latin-1") + "?" + scope["query_string"].decode("latin-1")),
                                        headers=headers)
        except httpx.HTTPError:
            return await refuse(scope, send, 503, "Unavailable", "SQL written by visitors cannot be run right now: "
                                "the process that runs it does not answer. Try again later.", 60)
        body = response.content
        await send({"type": "http.response.start", "status": response.status_code,
                    "headers": [(k, v) for k, v in response.headers.raw if k.lower() not in HOP_BY_HOP]
                    + [(b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})

    return forward


def sql_argv(argv, socket):
    """`datasette serve ...` as this process was started (argv without the program), on `socket` instead of a port."""
    args, rest = [], iter(argv)
    for arg in rest:
        if arg in ("--host", "-h", "--port", "-p", "--uds"):
            next(rest, None)
        elif not arg.startswith(("--host=", "--port=", "--uds=")):
            args.append(arg)
    return [sys.executable, "-m", "datasette", *args, "--uds", socket]


def lowly():
    """In the child before it runs: the lowest CPU priority, and SIGTERM when this process dies (Linux)."""
    os.nice(19 - os.nice(0))
    prctl = getattr(ctypes.CDLL(None), "prctl", None)
    if prctl:
        prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


@hookimpl
def startup(datasette):
    """With SPAWN_ENV=1 in a `datasette serve` that serves (not --get), start the Datasette for visitors' SQL."""
    argv = sys.argv[1:]
    if os.environ.get(SPAWN_ENV) != "1" or argv[:1] != ["serve"] or "--get" in argv or os.environ.get(SOCKET_ENV):
        return
    folder = socket_folder()
    socket = os.path.join(folder, "sql.sock")
    env = {k: v for k, v in os.environ.items() if k != SPAWN_ENV}
    child = subprocess.Popen(sql_argv(argv, socket), env=env, stdout=subprocess.DEVNULL, preexec_fn=lowly)
    for _ in range(600):  # this site refers visitors' SQL to it from its first request on
        if os.path.exists(socket) or child.poll() is not None:
            break
        time.sleep(0.1)
    os.environ[SOCKET_ENV] = socket

    @atexit.register
    def stop():  # on a normal exit; uvicorn ends on SIGTERM by raising it again, which PR_SET_PDEATHSIG covers
        child.terminate()
        child.wait()
        shutil.rmtree(folder, ignore_errors=True)


def socket_folder():
    """A new folder for the socket, named after this process (short: a socket's path is at most 107 bytes); the
    folders of processes that are gone are removed (a site stopped by a signal leaves its own)."""
    base = tempfile.gettempdir()
    for name in os.listdir(base):
        pid = name.removeprefix(FOLDER_PREFIX)
        if name.startswith(FOLDER_PREFIX) and pid.isdigit() and not alive(int(pid)):
            shutil.rmtree(os.path.join(base, name), ignore_errors=True)
    folder = os.path.join(base, f"{FOLDER_PREFIX}{os.getpid()}")
    shutil.rmtree(folder, ignore_errors=True)
    os.mkdir(folder, 0o700)
    return folder


def alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's
        return True
    return True


@hookimpl
def asgi_wrapper(datasette):
    socket = os.environ.get(SOCKET_ENV)

    def wrap(app):
        share = Share()
        site_sql = declared(datasette.metadata() or {})
        runner = forwarder(socket) if socket else app

        async def shared(scope, receive, send):
            if not arbitrary(scope, site_sql):
                return await app(scope, receive, send)
            if wait := share.wait_s():
                return await busy(scope, send, wait)
            share.running += 1
            stopped = []

            async def watch(message):  # Datasette answers a query it interrupted with 400 "... took too long"
                if message["type"] == "http.response.body" and b"too long" in message.get("body", b""):
                    stopped.append(True)
                await send(message)

            try:
                await (runner if scope["method"] in ("GET", "HEAD") else app)(
                    {**scope, "query_string": limited_query(scope["query_string"])}, receive, watch)
            finally:
                share.running -= 1
                share.refill()
                share.left -= TIME_LIMIT_MS / 1000 if stopped else 0  # what it took of an SQL thread

        return shared

    return wrap
