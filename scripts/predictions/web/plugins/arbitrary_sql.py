"""Arbitrary SQL gets a small share of the server, so it never stalls the canned queries and pages.

A request carrying SQL written by the visitor (``?sql=`` on a database, ``?_where=`` on a table) is
- stopped after TIME_LIMIT_MS (Datasette's own ``_timelimit``, which can only lower sql_time_limit_ms);
- refused at once with HTTP 429 and ``Retry-After`` while AT_ONCE such requests are already running, or while
  queries stopped by the time limit have used up their share of time: SHARE of one thread on average, with
  bursts of up to BURST_S (a query that finishes in time costs nothing: its time depends on the machine's load
  as much as on the query).
So at most one of the num_sql_threads threads is busy with arbitrary SQL, and only a twentieth of the time: the
others, and the CPU, stay free for the canned queries and pages.

When SOCKET_ENV names a Unix socket (`predictions serve` starts a second Datasette there, serve.py), the
requests let through are answered by that process instead of this one: a query that runs for its whole time
limit then shares nothing with the canned queries but the CPU (in this process it held up their threads and
the event loop, which compete with it for the interpreter: Datasette checks the time limit in Python every
1,000 SQLite instructions). If that process cannot be reached, the answer is 503. Queries that finish in time never touch the
share; a visitor who floods the site with slow ones gets 429s, and so, while it lasts, does everyone's
arbitrary SQL (the canned queries and pages never do). Thirty slow queries sent at once stalled the canned
queries for 41 s before this (issue 15); benchmarks/load.py measures it.
"""

import json
import math
import os
import time
from urllib.parse import parse_qsl

import httpx
from datasette import hookimpl

AT_ONCE = 1
TIME_LIMIT_MS = 1000
SHARE = 0.05  # seconds of arbitrary SQL stopped by the time limit per second, on average
BURST_S = 2.0  # seconds of it that may run back to back before SHARE applies
ARBITRARY = ("sql", "_where")
SOCKET_ENV = "PREDICTIONS_SQL_SOCKET"
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
