"""Load on the served site, loopback only: the heaviest canned queries and two pages (PAGES: the track record,
a table), requested in turn, first calm, then while --slow clients keep arbitrary SQL saturated (each sends a
recursive CTE that only a time limit stops, again and again).

Four phases of one run, a quarter of --seconds each:
1. closed loop, calm: --connections connections send requests back to back. Their throughput is the site's
   capacity on these queries, measured in this run (16 connections keep a 2-core server busy by themselves,
   so their latency is mostly their own queueing);
2. open loop, calm: requests sent at a stated rate, --rate-fraction of that capacity (or --rate), at seeded
   random (Poisson) moments whatever the answers; each latency runs from the moment the request was due, so a
   stalled server counts in full;
3. open loop at the same rate while arbitrary SQL is saturated (the slow clients start with this phase);
4. closed loop while arbitrary SQL is saturated.
Prints requests/s and latency percentiles per phase and errors; --json writes the figures. The slow clients
run in a process of their own, so their work never delays the timing of the canned requests.

    .venv/bin/predictions serve --port 8001 &
    .venv/bin/python benchmarks/load.py --url http://127.0.0.1:8001 --seconds 30

An error is a canned-query request that did not answer 200 with JSON (a page: with HTML), or failed at the HTTP
level. A slow
query is expected to be stopped by the time limit (HTTP 400 "SQL query took too long") or refused at once
because others are running (HTTP 429, plugins/arbitrary_sql.py); any other answer to it is counted apart.
Stdlib asyncio and httpx; bounded: at most 120 s, 64 connections, 32 slow clients.
"""

import argparse
import asyncio
import json
import os
import random
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from urllib.parse import urlsplit

import httpx

LOOPBACK = {"127.0.0.1", "localhost", "::1"}
SLOW_SQL = "with recursive c(x) as (select 1 union all select x + 1 from c) select count(*) from c -- {}"
LIMITS = {"seconds": 120, "connections": 64, "slow": 32}
PAGES = ("/", "/data/predictions")  # the track record's page and a table's, requested in turn with the queries
PHASES = {  # figure prefix: what it measured
    "calm": "closed loop, {connections} connections, calm",
    "open_calm": "open loop, {rate_rps:g} requests/s (capacity {capacity_rps:g}/s), calm",
    "open_saturated": "open loop, {rate_rps:g} requests/s, arbitrary SQL saturated",
    "saturated": "closed loop, {connections} connections, arbitrary SQL saturated",
}


def percentile(sorted_values, p):
    if not sorted_values:
        return 0.0
    k = min(len(sorted_values) - 1, max(0, round(p / 100 * (len(sorted_values) - 1))))
    return sorted_values[k]


async def heaviest(client, count):
    """The `count` canned queries that take longest (best of two runs each), as JSON paths."""
    queries = (await client.get("/data.json")).json()["queries"]
    timed = []
    for q in queries:
        path = f"/data/{q['name']}.json?_shape=array"
        best = float("inf")
        for _ in range(2):
            start = time.perf_counter()
            response = await client.get(path)
            best = min(best, time.perf_counter() - start)
            if response.status_code != 200:
                raise SystemExit(f"canned query {q['name']} answers HTTP {response.status_code}: {response.text[:300]}")
        timed.append((best, q["name"], path))
    timed.sort(reverse=True)
    return [(name, path) for _, name, path in timed[:count]]


async def fetch(client, path):
    """None when the canned query answered 200 with JSON (a page: with HTML), else what went wrong."""
    as_json = urlsplit(path).path.endswith(".json")
    try:
        response = await client.get(path)
        ok = response.status_code == 200 and response.headers.get("content-type", "").startswith(
            "application/json" if as_json else "text/html")
        if ok and as_json:
            response.json()  # must parse
        return None if ok else f"{path}: HTTP {response.status_code} {response.text[:120]!r}"
    except (httpx.HTTPError, ValueError) as e:
        return f"{path}: {type(e).__name__}: {e}"


def record(out, due, problem):
    out["latencies"].append(time.perf_counter() - due)
    if problem:
        out["errors"].append(problem)


async def closed_loop(client, paths, connections, seconds, out):
    """`connections` workers, each sending its next request as soon as the last one answered."""
    deadline = time.perf_counter() + seconds

    async def worker(i):
        while time.perf_counter() < deadline:
            start = time.perf_counter()
            record(out, start, await fetch(client, paths[i % len(paths)]))
            i += 1

    await asyncio.gather(*(worker(k) for k in range(connections)))


async def open_loop(client, paths, rate, seconds, seed, out):
    """Requests at `rate` per second on average, at Poisson moments whatever the answers; each latency is counted
    from the moment its request was due."""
    rng, due, tasks = random.Random(seed), time.perf_counter(), []
    deadline = due + seconds

    async def one(path, due):
        record(out, due, await fetch(client, path))

    while (due := due + rng.expovariate(rate)) < deadline:
        await asyncio.sleep(max(0.0, due - time.perf_counter()))
        tasks.append(asyncio.create_task(one(paths[len(tasks) % len(paths)], due)))
    await asyncio.gather(*tasks)


async def slow_clients(url, count, seconds):
    """`count` clients, each sending slow arbitrary queries one after another for `seconds`."""
    out = {"stopped": 0, "refused": 0, "other": 0, "other_samples": []}
    deadline = time.perf_counter() + seconds

    async def one(client, k):
        n = 0
        while time.perf_counter() < deadline:
            n += 1
            try:
                response = await client.get("/data.json", params={"sql": SLOW_SQL.format(f"{k}.{n}")})
                if response.status_code == 400 and "too long" in response.text:
                    out["stopped"] += 1
                elif response.status_code == 429:
                    out["refused"] += 1
                    await asyncio.sleep(0.1)  # told to come back later, it comes back at once
                else:
                    out["other"] += 1
                    out["other_samples"].append(f"HTTP {response.status_code} {response.text[:160]!r}")
            except httpx.HTTPError as e:
                out["other"] += 1
                out["other_samples"].append(f"{type(e).__name__}: {e}"[:200])

    limits = httpx.Limits(max_connections=count)
    async with httpx.AsyncClient(base_url=url, timeout=httpx.Timeout(60.0), limits=limits) as client:
        await asyncio.gather(*(one(client, k) for k in range(count)))
    return out


def slow_process(url, count, seconds):
    """The slow clients in a process of their own, so that their work never delays the canned requests' timing, at
    the lowest CPU priority: on loopback their CPU is the server's, which a remote visitor's never is."""
    os.nice(19 - os.nice(0))
    return asyncio.run(slow_clients(url, count, seconds)) if count else {"stopped": 0, "refused": 0, "other": 0,
                                                                          "other_samples": []}


def latency_figures(latencies, prefix=""):
    lat = sorted(latencies)
    return {f"{prefix}p50_s": round(percentile(lat, 50), 4), f"{prefix}p95_s": round(percentile(lat, 95), 4),
            f"{prefix}p99_s": round(percentile(lat, 99), 4), f"{prefix}max_s": round(lat[-1] if lat else 0.0, 4)}


def phase_figures(prefix, out, elapsed):
    return {f"{prefix}requests": len(out["latencies"]), f"{prefix}rps": round(len(out["latencies"]) / elapsed, 1),
            **latency_figures(out["latencies"], prefix)}


async def run(url, seconds, connections, queries, slow, rate=None, rate_fraction=0.5, seed=1, pages=PAGES):
    """The four phases (module docstring); figures prefixed calm_ and saturated_ (closed loop), open_calm_ and
    open_saturated_ (open loop)."""
    quarter = seconds / 4
    timeout = httpx.Timeout(60.0)
    limits = httpx.Limits(max_connections=LIMITS["connections"], max_keepalive_connections=connections)
    phases = {name: {"latencies": [], "errors": []} for name in ("calm", "open_calm", "open_saturated", "saturated")}
    elapsed = {}
    async with httpx.AsyncClient(base_url=url, timeout=timeout, limits=limits) as client:
        chosen = await heaviest(client, queries)
        paths = [p for _, p in chosen] + list(pages)
        start = time.perf_counter()
        with ProcessPoolExecutor(1) as pool:
            await asyncio.get_running_loop().run_in_executor(pool, slow_process, url, 0, 0)  # started before timing
            t = time.perf_counter()
            await closed_loop(client, paths, connections, quarter, phases["calm"])
            elapsed["calm"] = time.perf_counter() - t
            capacity = len(phases["calm"]["latencies"]) / elapsed["calm"]
            rate = rate or rate_fraction * capacity
            t = time.perf_counter()
            await open_loop(client, paths, rate, quarter, seed, phases["open_calm"])
            elapsed["open_calm"] = time.perf_counter() - t
            slow_done = asyncio.get_running_loop().run_in_executor(pool, slow_process, url, slow, 2 * quarter)
            await asyncio.sleep(0.2 if slow else 0)  # the slow clients' first queries reach the server
            t = time.perf_counter()
            await open_loop(client, paths, rate, quarter, seed + 1, phases["open_saturated"])
            elapsed["open_saturated"] = time.perf_counter() - t
            t = time.perf_counter()
            await closed_loop(client, paths, connections, quarter, phases["saturated"])
            elapsed["saturated"] = time.perf_counter() - t
            counts = await slow_done
        total = time.perf_counter() - start
    every = {"latencies": [d for o in phases.values() for d in o["latencies"]],
             "errors": [e for o in phases.values() for e in o["errors"]]}
    figures = {"url": url, "connections": connections, "seconds": seconds, "elapsed_s": round(total, 2),
               "queries": [name for name, _ in chosen], "pages": list(pages), "capacity_rps": round(capacity, 1),
               "rate_rps": round(rate, 1), "canned_requests": len(every["latencies"]),
               "canned_errors": len(every["errors"]), "error_samples": every["errors"][:5],
               "rps": round(len(every["latencies"]) / total, 1), **latency_figures(every["latencies"])}
    for name, out in phases.items():
        figures.update(phase_figures(f"{name}_", out, elapsed[name]))
    figures.update({"slow_clients": slow, "slow_stopped": counts["stopped"], "slow_refused": counts["refused"],
                    "slow_other": counts["other"], "slow_other_samples": counts["other_samples"][:5]})
    return figures


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--url", default="http://127.0.0.1:8001", help="the served site (loopback only)")
    ap.add_argument("--seconds", type=float, default=30)
    ap.add_argument("--connections", type=int, default=16)
    ap.add_argument("--queries", type=int, default=4, help="how many of the heaviest canned queries to load")
    ap.add_argument("--slow", type=int, default=30, help="clients sending slow arbitrary queries (0: none)")
    ap.add_argument("--rate", type=float, help="requests/s of the open-loop phases (default: --rate-fraction of capacity)")
    ap.add_argument("--rate-fraction", type=float, default=0.5, help="open-loop rate as a fraction of the capacity measured")
    ap.add_argument("--seed", type=int, default=1, help="of the open-loop request times")
    ap.add_argument("--json", help="write the figures to this file")
    args = ap.parse_args(argv)
    host = urlsplit(args.url).hostname
    if host not in LOOPBACK:
        ap.error(f"refusing to load {host!r}: loopback only ({', '.join(sorted(LOOPBACK))})")
    for name, cap in LIMITS.items():
        if not 0 <= getattr(args, name) <= cap:
            ap.error(f"--{name} must be between 0 and {cap}")
    if args.connections < 1 or args.seconds <= 0 or (args.rate or 1) <= 0 or not 0 < args.rate_fraction <= 1:
        ap.error("--connections, --seconds and --rate must be positive, --rate-fraction in (0, 1]")
    figures = asyncio.run(run(args.url, args.seconds, args.connections, args.queries, args.slow, args.rate,
                              args.rate_fraction, args.seed))
    f = figures
    print(f"{f['elapsed_s']} s, canned queries: {', '.join(f['queries'])}; pages: {', '.join(f['pages'])}")
    print(f"canned: {f['canned_requests']:,} requests, {f['rps']:,.1f}/s, errors {f['canned_errors']}")
    for part, what in PHASES.items():
        print(f"{what.format(**f)}: {f[part + '_requests']:,} requests, {f[part + '_rps']:,.1f}/s, "
              + ", ".join(f"{k} {f[f'{part}_{k}_s'] * 1000:.1f} ms" for k in ("p50", "p95", "p99", "max")))
    print(f"slow queries from {f['slow_clients']} clients: {f['slow_stopped']} stopped by the time limit, "
          f"{f['slow_refused']} refused at once (429), {f['slow_other']} other answers")
    for sample in f["slow_other_samples"]:
        print(f"  other answer to a slow query: {sample}")
    for e in f["error_samples"]:
        print(f"  error: {e}")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(figures, fh, indent=2)
    return 1 if f["canned_errors"] else 0


if __name__ == "__main__":
    sys.exit(main())
