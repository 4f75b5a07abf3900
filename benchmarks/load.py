"""Load on the served site, loopback only: connections hammering the heaviest canned queries while, from
--slow-at on, --slow clients keep arbitrary SQL saturated (each sends a recursive CTE that only a time limit
stops, again and again). Prints requests/s, latency percentiles (overall, and of the canned requests made while
arbitrary SQL was saturated) and errors; --json writes the figures. The slow clients run in a process of their
own, so their work never delays the timing of the canned requests.

    .venv/bin/predictions serve --port 8001 &
    .venv/bin/python benchmarks/load.py --url http://127.0.0.1:8001 --seconds 30

An error is a canned-query request that did not answer 200 with JSON (or failed at the HTTP level). A slow
query is expected to be stopped by the time limit (HTTP 400 "SQL query took too long") or refused at once
because others are running (HTTP 429, plugins/arbitrary_sql.py); any other answer to it is counted apart.
Stdlib asyncio and httpx; bounded: at most 120 s, 64 connections, 32 slow clients.
"""

import argparse
import asyncio
import json
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from urllib.parse import urlsplit

import httpx

LOOPBACK = {"127.0.0.1", "localhost", "::1"}
SLOW_SQL = "with recursive c(x) as (select 1 union all select x + 1 from c) select count(*) from c -- {}"
LIMITS = {"seconds": 120, "connections": 64, "slow": 32}


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


async def canned_worker(client, paths, offset, deadline, out):
    i = offset
    while time.perf_counter() < deadline:
        path = paths[i % len(paths)]
        i += 1
        start = time.perf_counter()
        try:
            response = await client.get(path)
            ok = response.status_code == 200 and response.headers.get("content-type", "").startswith("application/json")
            if ok:
                response.json()  # must parse
            problem = None if ok else f"{path}: HTTP {response.status_code} {response.text[:120]!r}"
        except (httpx.HTTPError, ValueError) as e:
            problem = f"{path}: {type(e).__name__}: {e}"
        out["latencies"].append((start, time.perf_counter() - start))
        if problem:
            out["errors"].append(problem)


async def slow_clients(url, count, delay, seconds):
    """`count` clients, each sending slow arbitrary queries one after another for `seconds`, after `delay`."""
    out = {"stopped": 0, "refused": 0, "other": 0}
    await asyncio.sleep(delay)
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
            except httpx.HTTPError:
                out["other"] += 1

    limits = httpx.Limits(max_connections=count)
    async with httpx.AsyncClient(base_url=url, timeout=httpx.Timeout(60.0), limits=limits) as client:
        await asyncio.gather(*(one(client, k) for k in range(count)))
    return out


def slow_process(url, count, delay, seconds):
    """The slow clients in a process of their own, so that their work never delays the canned requests' timing."""
    return asyncio.run(slow_clients(url, count, delay, seconds))


def latency_figures(latencies, prefix=""):
    lat = sorted(latencies)
    return {f"{prefix}p50_s": round(percentile(lat, 50), 4), f"{prefix}p95_s": round(percentile(lat, 95), 4),
            f"{prefix}p99_s": round(percentile(lat, 99), 4), f"{prefix}max_s": round(lat[-1] if lat else 0.0, 4)}


async def run(url, seconds, connections, queries, slow, slow_at):
    timeout = httpx.Timeout(60.0)
    canned_limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    async with httpx.AsyncClient(base_url=url, timeout=timeout, limits=canned_limits) as client:
        chosen = await heaviest(client, queries)
        out = {"latencies": [], "errors": []}
        start = time.perf_counter()
        deadline = start + seconds
        tasks = [canned_worker(client, [p for _, p in chosen], k, deadline, out) for k in range(connections)]
        with ProcessPoolExecutor(1) as pool:
            if slow:
                delay = slow_at * seconds
                tasks.append(asyncio.get_running_loop().run_in_executor(
                    pool, slow_process, url, slow, delay, seconds - delay))
            results = await asyncio.gather(*tasks)
        elapsed = time.perf_counter() - start
    counts = results[-1] if slow else {"stopped": 0, "refused": 0, "other": 0}
    begun = start + slow_at * seconds if slow else deadline
    saturated = [d for t, d in out["latencies"] if t >= begun]
    calm = [d for t, d in out["latencies"] if t < begun]
    return {
        "url": url, "connections": connections, "seconds": seconds, "elapsed_s": round(elapsed, 2),
        "queries": [name for name, _ in chosen],
        "canned_requests": len(out["latencies"]), "canned_errors": len(out["errors"]),
        "error_samples": out["errors"][:5], "rps": round(len(out["latencies"]) / elapsed, 1),
        **latency_figures([d for _, d in out["latencies"]]),
        "calm_requests": len(calm), **latency_figures(calm, "calm_"),
        "saturated_requests": len(saturated), **latency_figures(saturated, "saturated_"),
        "slow_clients": slow, "slow_stopped": counts["stopped"], "slow_refused": counts["refused"],
        "slow_other": counts["other"],
    }


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--url", default="http://127.0.0.1:8001", help="the served site (loopback only)")
    ap.add_argument("--seconds", type=float, default=30)
    ap.add_argument("--connections", type=int, default=16)
    ap.add_argument("--queries", type=int, default=4, help="how many of the heaviest canned queries to load")
    ap.add_argument("--slow", type=int, default=30, help="clients sending slow arbitrary queries (0: none)")
    ap.add_argument("--slow-at", type=float, default=0.3, help="when they start, as a fraction of the run")
    ap.add_argument("--json", help="write the figures to this file")
    args = ap.parse_args(argv)
    host = urlsplit(args.url).hostname
    if host not in LOOPBACK:
        ap.error(f"refusing to load {host!r}: loopback only ({', '.join(sorted(LOOPBACK))})")
    for name, cap in LIMITS.items():
        if not 0 <= getattr(args, name) <= cap:
            ap.error(f"--{name} must be between 0 and {cap}")
    if args.connections < 1 or args.seconds <= 0:
        ap.error("--connections and --seconds must be positive")
    figures = asyncio.run(run(args.url, args.seconds, args.connections, args.queries, args.slow, args.slow_at))
    f = figures
    print(f"{f['connections']} connections, {f['elapsed_s']} s, canned queries: {', '.join(f['queries'])}")
    print(f"canned: {f['canned_requests']:,} requests, {f['rps']:,.1f}/s, errors {f['canned_errors']}")
    print("latency: " + ", ".join(f"{k[:-2]} {f[k] * 1000:.1f} ms" for k in ("p50_s", "p95_s", "p99_s", "max_s")))
    for part in ("calm", "saturated"):
        print(f"{part} (arbitrary SQL {'saturated' if part == 'saturated' else 'not yet sent'}, "
              f"{f[part + '_requests']:,} requests): "
              + ", ".join(f"{k} {f[f'{part}_{k}_s'] * 1000:.1f} ms" for k in ("p50", "p99", "max")))
    print(f"slow queries from {f['slow_clients']} clients: {f['slow_stopped']} stopped by the time limit, "
          f"{f['slow_refused']} refused at once (429), {f['slow_other']} other answers")
    for e in f["error_samples"]:
        print(f"  error: {e}")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(figures, fh, indent=2)
    return 1 if f["canned_errors"] else 0


if __name__ == "__main__":
    sys.exit(main())
