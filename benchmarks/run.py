"""Benchmarks of issue 6: build vs its floor, canned queries, the served site under load -> RESULTS.md.

    .venv/bin/python benchmarks/run.py [--sizes 100,1000,10000] [--runs 3] [--load-seconds 20]
    .venv/bin/python benchmarks/run.py --quick --out /tmp/RESULTS.md   # CI: --sizes 100 --runs 1 --load-seconds 2

For each size: a synthetic corpus (synth.py), then medians over --runs of `predictions build --jobs N` for each
N of --jobs (1: serial; more: worker processes; a fresh subprocess: wall time, peak RSS, predictions/s) and of
its floor on the same files (a fresh
subprocess that parses every .md body with predictions.markdown.parse and nothing else, then inserts the
built database's rows, the same count per table, with plain sqlite3 executemany in one transaction).
On the largest database: every canned query of metadata.yml and every query of the track record at /
through in-process Datasette configured like the site vs the same SQL in plain sqlite3; `predictions serve`
under load (16 connections, httpx on loopback); a rebuild after a one-post change. Trees and databases go to
/dev/shm (the disk is slow).
No test runs this; nothing asserts a time.
"""

import argparse
import asyncio
import json
import os
import platform
import re
import shutil
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from importlib import metadata as dist
from pathlib import Path
from urllib.parse import quote

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
BIN = Path(sys.executable).parent
SEED = 1
LOAD_PATHS = ["/data/calibration.json?_shape=array", "/data/scores.json?_shape=array"]
CONNECTIONS = 16
# Query cases: parameters set (every other named parameter is the empty string, as Datasette sends it).
CASES = {"unfiltered": {}, "year+tag": {"year": "2020", "tag": "agents"}}
SEARCH = {"q": "agents"}  # MATCH '' is an FTS5 syntax error, so the search query always gets a word
FTS_PREFIX = "predictions_fts"
NOTES = "\n<!-- notes: kept by run.py -->\n"  # RESULTS.md from this line on is written by hand and kept
TIME = Path("/usr/bin/time")  # Debian package time
RSS_HOW = ("`/usr/bin/time -f %M`" if TIME.exists() else
           "`os.wait4` (an upper bound: it counts the pages the child shared with this process before exec)")


def median(xs):
    return statistics.median(xs) if xs else float("nan")


# ---------------------------------------------------------------- build and floor


def timed(argv, log):
    """(wall seconds, peak RSS in MB) of a fresh child; its output goes to log.

    The peak comes from /usr/bin/time when there is one: os.wait4's ru_maxrss of a child forked from this
    (by then large) process would count the pages it shared with us before exec."""
    rss_file = Path(f"{log}.rss")
    if TIME.exists():
        argv = [TIME, "-f", "%M", "-o", rss_file, *argv]
    with open(log, "w") as out:
        t = time.perf_counter()
        proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - t
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode:
        sys.exit(f"failed ({proc.returncode}): {' '.join(map(str, argv))}\n{Path(log).read_text()[-2000:]}")
    kb = int(rss_file.read_text().split()[-1]) if TIME.exists() else usage.ru_maxrss
    return wall, kb / 1024


def build(content, db, log, full=True, jobs=None):
    """A build; full=True parses every post (the measured builds), False reuses the cache of the last one.
    jobs: `--jobs N` (None: the build's default, one worker per usable CPU)."""
    return timed([BIN / "predictions", "build", "--content", content, "--db", db, "--resolutions", "/nonexistent",
                  "-q", *(["--full"] if full else []), *(["--jobs", str(jobs)] if jobs else [])], log)


def job_counts(spec):
    """The --jobs values to measure: "auto" is 1, 2, 4, ... up to the usable CPUs (and the usable CPUs)."""
    if spec != "auto":
        return sorted({1} | {int(j) for j in spec.split(",")})
    cpus = len(os.sched_getaffinity(0))
    return sorted({1, cpus} | {2 ** k for k in range(1, cpus.bit_length()) if 2 ** k <= cpus})


def data_tables(conn):
    return [n for (n,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
            if not n.startswith((FTS_PREFIX, "sqlite_"))]


def body(text):
    """The Markdown after a ---/+++ front matter block (as the build splits it)."""
    for fence in ("---", "+++"):
        if text.startswith(fence + "\n"):
            end = text.find("\n" + fence + "\n", len(fence))
            return text[end + len(fence) + 2:] if end >= 0 else text
    return text


def floor_child(content, rows_db, out_db):
    """The floor, run as its own process: its setup (loading the rows to insert) is timed and subtracted."""
    t0 = time.perf_counter()
    src = sqlite3.connect(rows_db)
    tables = {}
    for name in data_tables(src):
        cur = src.execute(f'SELECT * FROM "{name}"')
        tables[name] = ([d[0] for d in cur.description], cur.fetchall())
    src.close()
    t1 = time.perf_counter()
    from predictions.markdown import parse

    files = sorted(Path(content).rglob("*.md"))
    for path in files:
        parse(body(path.read_text(encoding="utf-8")))
    t2 = time.perf_counter()
    Path(out_db).unlink(missing_ok=True)
    conn = sqlite3.connect(out_db)
    with conn:
        for name, (cols, rows) in tables.items():
            conn.execute(f'CREATE TABLE "{name}" ({", ".join(f"[{c}]" for c in cols)})')
            conn.executemany(f'INSERT INTO "{name}" VALUES ({", ".join("?" * len(cols))})', rows)
    conn.close()
    t3 = time.perf_counter()
    print(json.dumps(dict(setup=t1 - t0, parse=t2 - t1, insert=t3 - t2, files=len(files),
                          rows=sum(len(r) for _, r in tables.values()))))


def floor(content, rows_db, out_db, log):
    wall, _ = timed([sys.executable, __file__, "--floor-child", content, rows_db, out_db], log)
    phases = json.loads(Path(log).read_text().strip().splitlines()[-1])
    return wall - phases["setup"], phases


def bench_size(n, runs, work, jobs=(1,)):
    tree = work / f"s{n}"
    t = time.perf_counter()
    sys.path.insert(0, str(HERE))
    import synth

    synth.generate(tree, n, SEED)
    gen = time.perf_counter() - t
    content, db = tree / "content", tree / "data.db"
    walls, rsses, floors, phases = {j: [] for j in jobs}, {j: [] for j in jobs}, [], []
    for i in range(runs):
        for j in [j for j in jobs if j != 1] + [1]:  # the serial build last: its database is measured below
            wall, mb = build(content, db, work / "build.log", jobs=j)
            walls[j].append(wall)
            rsses[j].append(mb)
        f, ph = floor(content, db, work / "floor.db", work / "floor.log")
        floors.append(f)
        phases.append(ph)
        pooled = ", ".join(f"--jobs {j} {walls[j][-1]:.2f} s ({rsses[j][-1]:.0f} MB)" for j in jobs if j != 1)
        print(f"  size {n} run {i + 1}: build {wall:.2f} s ({mb:.0f} MB){', ' + pooled if pooled else ''}, "
              f"floor {f:.2f} s; load {os.getloadavg()[0]:.2f}", flush=True)
    builds, rss = walls[1], rsses[1]
    by_jobs = {j: dict(build=median(walls[j]), builds=walls[j], rss=median(rsses[j]),
                       ratio=median(walls[j]) / median(floors), speedup=median(walls[1]) / median(walls[j]))
               for j in jobs}
    conn = sqlite3.connect(db)
    counts = {name: conn.execute(f'SELECT count(*) FROM "{name}"').fetchone()[0] for name in data_tables(conn)}
    conn.close()
    b = median(builds)
    return dict(size=n, generate=gen, files=phases[0]["files"], rows=phases[0]["rows"], counts=counts,
                predictions=counts["predictions"], build=b, builds=builds, rss=median(rss), floor=median(floors),
                parse=median([p["parse"] for p in phases]), insert=median([p["insert"] for p in phases]),
                rate=counts["predictions"] / b, ratio=b / median(floors), content=content, db=db, jobs=by_jobs)


def reviewed_post(blog):
    """The first forecast post with a review, and the review."""
    for post in sorted(blog.glob("predictions-*/index.md")):
        review = blog / f"year-in-review-{post.parent.name}" / "index.md"
        if review.exists():
            return post, review
    raise SystemExit("the synthetic corpus has no reviewed forecast post")


def changes(blog):
    """{kind of change: function making it, returning {path: bytes before or None (a file it added)}}."""
    post, review = reviewed_post(blog)
    article = sorted(blog.glob("notes-*/index.md"))[0]
    unreviewed = next(p for p in sorted(blog.glob("predictions-*/index.md"))
                      if not (blog / f"year-in-review-{p.parent.name}").exists())

    def append(path=article):
        before = path.read_bytes()
        path.write_bytes(before + b"\nEdited for the benchmark: one more paragraph.\n")
        return {path: before}

    def probability():
        before = unreviewed.read_bytes()
        m = re.search(rb"_Probability: (\d+)%_", before)
        new = b"41" if m[1] != b"41" else b"42"
        unreviewed.write_bytes(before.replace(m[0], b"_Probability: " + new + b"%_", 1))
        return {unreviewed: before}

    def verdict():
        before = review.read_bytes()
        review.write_bytes(before.replace("✅".encode(), b"\0").replace("❌".encode(), "✅".encode())
                           .replace(b"\0", "❌".encode()))
        return {review: before}

    def add():
        new = blog / "aaa-benchmark-added" / "index.md"
        new.parent.mkdir()
        new.write_bytes(post.read_bytes().replace(b"title: Predictions", b"title: Added Predictions", 1))
        return {new: None}

    def delete():
        before = post.read_bytes()
        post.unlink()
        return {post: before}

    return {"append a paragraph to an article": append, "change a probability (a post without review)": probability,
            "swap a review's verdicts": verdict, "add a forecast post": add,
            "delete a reviewed forecast post": delete}


def undo(saved):
    for path, data in saved.items():
        if data is None:
            shutil.rmtree(path.parent)
        else:
            path.parent.mkdir(exist_ok=True)
            path.write_bytes(data)


def build_path(log):
    return next((line.split(": ", 1)[1] for line in Path(log).read_text().splitlines()
                 if line.startswith("build path:")), "?")


def one_post_change(res, work, runs=3):
    """Builds after each kind of change (median of runs; each undone and built again before the next): the
    previous database is updated. Then the rewrite that reuses unchanged posts' parsed work, for comparison."""
    content, db, log = res["content"], res["db"], work / "build.log"
    build(content, db, log, full=False)  # after a --full build: reads the drafts once
    found = []
    for kind, make in changes(content / "blog").items():
        walls, rss = [], []
        for _ in range(runs):
            saved = make()
            try:
                wall, mb = build(content, db, log, full=False)
                path = build_path(log)
            finally:
                undo(saved)
            walls.append(wall)
            rss.append(mb)
            build(content, db, log, full=False)
        found.append(dict(kind=kind, wall=median(walls), walls=walls, rss=median(rss), path=path))
        print(f"  {kind}: {median(walls):.2f} s ({path})", flush=True)
    manifest = db.with_name(f".{db.name}.manifest")
    manifest.unlink()
    saved = changes(content / "blog")["append a paragraph to an article"]()
    try:
        rewrite, rewrite_rss = build(content, db, log, full=False)
        rewrite_path = build_path(log)
    finally:
        undo(saved)
    return dict(changes=found, rewrite=rewrite, rewrite_rss=rewrite_rss, rewrite_path=rewrite_path, runs=runs,
                load=os.getloadavg())


# ---------------------------------------------------------------- canned queries


def named_params(sql):
    """The :name parameters of a statement, ignoring comments and string literals."""
    sql = re.sub(r"'[^']*'", "''", re.sub(r"--[^\n]*|/\*.*?\*/", "", sql, flags=re.S))
    return sorted(set(re.findall(r"(?<![:\w]):([A-Za-z_]\w*)", sql)))


async def time_calls(fns, min_runs=5, max_runs=50, budget=3.0):
    """Seconds of each call of fns, called in turn (so that the machine's load weighs on each alike), after a warm-up."""
    for fn in fns:
        await fn()
    times, start = [[] for _ in fns], time.perf_counter()
    while len(times[0]) < min_runs or (len(times[0]) < max_runs and time.perf_counter() - start < budget):
        for fn, out in zip(fns, times, strict=True):
            t = time.perf_counter()
            await fn()
            out.append(time.perf_counter() - t)
    return times


def benched_queries(metadata):
    """(name, sql, JSON path) of every canned query and of every distinct query of the home page's dashboard
    (its cards fetch /data.json?sql=...; the seven headline cards share one query)."""
    for name, q in metadata["databases"]["data"]["queries"].items():
        yield name, q["sql"], f"/data/{name}.json?_shape=array"
    seen = set()
    for name, chart in metadata["plugins"]["datasette-dashboards"][metadata["home_dashboard"]]["charts"].items():
        if "query" in chart and chart["query"] not in seen:
            seen.add(chart["query"])
            yield f"/ {name}", chart["query"], "/data.json?_shape=array&sql=" + quote(chart["query"])


async def bench_queries(db):
    from datasette.app import Datasette
    from datasette.utils import escape_fts

    from predictions import site_settings

    kwargs = site_settings.datasette_kwargs(db)
    ds = Datasette(**kwargs)
    await ds.invoke_startup()
    limit = ds.setting("max_returned_rows")
    conn = sqlite3.connect(f"file:{db}?immutable=1", uri=True, check_same_thread=False)
    conn.create_function("escape_fts", 1, escape_fts)
    sys.path.insert(0, str(site_settings.PLUGINS))
    import forecast_stats
    import page_size
    import sql_links
    import sql_math

    sql_math.register(conn)
    forecast_stats.register(conn)
    sql_links.prepare_connection(conn)
    out = []
    for name, sql, base in benched_queries(kwargs["metadata"]):
        for case, given in CASES.items():
            given = {**given, **(SEARCH if name == "search" else {})}
            path = base + "".join(f"&{k}={v}" for k, v in given.items())
            # as Datasette binds them: '' for an unset parameter, the default page size for :_page_size
            params = {p: given.get(p, page_size.DEFAULT if p == "_page_size" else "") for p in named_params(sql)}
            rows = {}

            async def via_datasette(name=name, path=path, rows=rows):
                r = await ds.client.get(path)
                if r.status_code != 200:
                    raise RuntimeError(f"{path}: HTTP {r.status_code} {r.text[:300]}")
                rows["datasette"] = len(r.json())

            async def undecoded(path=path, rows=rows):  # the answer's bytes, not decoded
                r = await ds.client.get(path)
                rows["bytes"] = len(r.content)

            async def via_sqlite(sql=sql, params=params, rows=rows):
                rows["sqlite"] = len(conn.execute(sql, params).fetchmany(limit + 1)[:limit])

            d, u, s = await time_calls([via_datasette, undecoded, via_sqlite])
            out.append(dict(query=name, case=case, path=path, rows=rows["datasette"], sqlite_rows=rows["sqlite"],
                            bytes=rows["bytes"], datasette=median(d), undecoded=median(u), sqlite=median(s),
                            ratio=median(d) / median(s), ratio_undecoded=median(u) / median(s), n=len(d)))
            print(f"  {name} [{case}]: datasette {median(d) * 1e3:.1f} ms, sqlite3 {median(s) * 1e3:.1f} ms",
                  flush=True)

    async def trivial():
        r = await ds.client.get("/data.json?_shape=array&sql=select+1")
        r.raise_for_status()

    async def nothing():
        conn.execute("select 1").fetchmany(limit + 1)

    d, s = await time_calls([trivial, nothing], min_runs=50, max_runs=200)
    conn.close()
    return out, limit, dict(datasette=median(d), sqlite=median(s), page_size=page_size.DEFAULT)


# ---------------------------------------------------------------- load test


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def drive(base, seconds):
    import httpx

    latencies, errors, deadline = [], [], time.perf_counter() + seconds
    limits = httpx.Limits(max_connections=CONNECTIONS, max_keepalive_connections=CONNECTIONS)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=10) as client:
        async def worker(k):
            while time.perf_counter() < deadline:
                path, k = LOAD_PATHS[k % len(LOAD_PATHS)], k + 1
                t = time.perf_counter()
                try:
                    r = await client.get(path)
                    r.raise_for_status()
                    latencies.append(time.perf_counter() - t)
                except httpx.HTTPError as e:
                    errors.append(f"{path}: {e!r}"[:200])

        start = time.perf_counter()
        await asyncio.wait_for(asyncio.gather(*(worker(i) for i in range(CONNECTIONS))), seconds + 30)
        elapsed = time.perf_counter() - start
    return latencies, errors, elapsed


def load_test(res, seconds, work):
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    argv = [BIN / "predictions", "serve", "--db", res["db"], "--port", str(port), "--content", res["content"],
            "--resolutions", "/nonexistent"]
    import httpx

    with open(work / "serve.log", "w") as log:
        server = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT)
        try:
            for _ in range(600):
                if server.poll() is not None:
                    sys.exit(f"predictions serve exited {server.returncode}:\n{(work / 'serve.log').read_text()}")
                try:
                    if httpx.get(base + "/-/versions.json", timeout=1).status_code == 200:
                        break
                except httpx.HTTPError:
                    time.sleep(0.2)
            else:
                sys.exit("predictions serve did not answer within two minutes")
            cpu = os.times()
            lat, errors, elapsed = asyncio.run(drive(base, seconds))
            cpu = sum(os.times()[:2]) - sum(cpu[:2])
        finally:
            server.terminate()
            try:
                server.wait(10)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()
    q = statistics.quantiles(lat, n=100) if len(lat) > 1 else [lat[0] if lat else float("nan")] * 99
    return dict(requests=len(lat) + len(errors), ok=len(lat), errors=len(errors), error_samples=errors[:5],
                seconds=elapsed, rps=len(lat) / elapsed, p50=q[49], p90=q[89], p99=q[98],
                max=max(lat, default=float("nan")), client_cpu=cpu)


# ---------------------------------------------------------------- report


def machine():
    info = {"nproc": os.cpu_count(), "usable CPUs": len(os.sched_getaffinity(0))}
    cpuinfo = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else ""
    info["CPU"] = next((line.split(":", 1)[1].strip() for line in cpuinfo.splitlines()
                        if line.startswith("model name")), platform.processor() or "?")
    meminfo = Path("/proc/meminfo").read_text() if Path("/proc/meminfo").exists() else ""
    m = re.search(r"MemTotal:\s+(\d+) kB", meminfo)
    info["memory"] = f"{int(m[1]) / 1024 ** 2:.1f} GiB" if m else "?"
    info["OS"] = platform.platform()
    info["Python"] = platform.python_version()
    info["SQLite"] = sqlite3.sqlite_version
    for d in ("datasette", "markdown-it-py", "sqlite-utils", "httpx"):
        info[d] = dist.version(d)
    git = subprocess.run(["git", "-C", ROOT, "describe", "--always", "--dirty"], capture_output=True, text=True)
    info["commit"] = git.stdout.strip() or "?"
    info["load average (1, 5, 15 min) at the end"] = " ".join(f"{x:.2f}" for x in os.getloadavg())
    return info


def build_tables(sizes):
    """The report's build section: the serial build vs its floor, then the build with worker processes."""
    L = ["", "## Build vs floor", "",
         "The floor: a fresh Python process that reads every `.md` file, parses its body with "
         "`predictions.markdown.parse` and nothing else, then inserts the built database's rows (same count "
         "per table, no indexes, no FTS) with plain `sqlite3` `executemany` in one transaction. Loading those "
         "rows from the built database is timed inside the process and subtracted. The build: `predictions build "
         f"--full --jobs 1` (serial). Peak RSS of each fresh build process from {RSS_HOW} (with workers: of the "
         "largest process, the main one).", "",
         "| posts | files | predictions | rows | build s | floor s (parse + insert) | build / floor | "
         "predictions/s | peak RSS MB | builds (s) |",
         "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|"]
    for s in sizes:
        L.append(f"| {s['size']:,} | {s['files']:,} | {s['predictions']:,} | {s['rows']:,} | {s['build']:.2f} | "
                 f"{s['floor']:.2f} ({s['parse']:.2f} + {s['insert']:.2f}) | {s['ratio']:.2f}× | {s['rate']:,.0f} | "
                 f"{s['rss']:.0f} | {', '.join(f'{b:.2f}' for b in s['builds'])} |")
    L += ["", "### Worker processes", "",
          "`predictions build --full --jobs N`: N worker processes read and parse the files (reading.py) while the "
          "main process writes the rows in file order; the database is the serial build's, byte for byte. Same runs "
          "and floor as above.", "",
          "| posts | --jobs | build s | build / floor | speed-up vs --jobs 1 | peak RSS MB | builds (s) |",
          "|---:|---:|---:|---:|---:|---:|---|"]
    for s in sizes:
        for j, b in sorted(s["jobs"].items()):
            L.append(f"| {s['size']:,} | {j} | {b['build']:.2f} | {b['ratio']:.2f}× | {b['speedup']:.2f}× | "
                     f"{b['rss']:.0f} | {', '.join(f'{x:.2f}' for x in b['builds'])} |")
    return L


def verdict(ok):
    return "met" if ok else "**missed**"


def report(args, sizes, queries, limit, floor_q, load, change, elapsed):
    big = sizes[-1]
    busy = args.load_before[0] > 0.5  # at the end the load includes this run
    L = ["# Benchmark results", "",
         f"Run {datetime.now(UTC):%Y-%m-%d %H:%M} UTC with `benchmarks/run.py --sizes "
         f"{','.join(str(s['size']) for s in sizes)} --runs {args.runs} --load-seconds {args.load_seconds}` "
         f"in {elapsed / 60:.1f} min. Figures are medians over the runs unless marked otherwise. "
         f"Corpora from `benchmarks/synth.py` (seed {SEED}); files and databases in {args.work} (tmpfs).", "",
         "## Machine", ""]
    L += [f"- {k}: {v}" for k, v in machine().items()]
    L += [f"- load average at the start: {' '.join(f'{x:.2f}' for x in args.load_before)}"]
    if busy:
        L += ["", "**Other processes were using the CPUs during this run (see the load averages): the times are "
              "pessimistic.**"]
    L += build_tables(sizes)
    growth = [(a, b, b["build"] / a["build"], b["floor"] / a["floor"]) for a, b in zip(sizes, sizes[1:], strict=False)]
    if growth:
        L += ["", "Growth: " + "; ".join(f"{b['size']:,} / {a['size']:,} posts: build {g:.2f}×, floor {f:.2f}×"
                                         for a, b, g, f in growth) + "."]
    L += ["", f"Rows per table at {big['size']:,} posts: " +
          ", ".join(f"{k} {v:,}" for k, v in big["counts"].items()) + "."]
    L += ["", "## One-post change", "",
          "`predictions build` (without `--full`) updates the previous database when a few post files changed "
          "(`update.py`: copy it, replace the changed posts' rows and what derives from them, rename), else "
          "rewrites it reusing unchanged posts' parsed work (`.data.db.cache`). Each change below is made to the "
          f"{big['size']:,}-post corpus, built, undone and built again; median of {change['runs']} (load average "
          f"after: {' '.join(f'{x:.2f}' for x in change['load'])}).", "",
          "| change | build s | / full build | peak RSS MB | path | builds (s) |", "|---|---:|---:|---:|---|---|"]
    L += [f"| {c['kind']} | {c['wall']:.2f} | {c['wall'] / big['build']:.3f}× | {c['rss']:.0f} | {c['path']} | "
          f"{', '.join(f'{w:.2f}' for w in c['walls'])} |" for c in change["changes"]]
    L += ["", f"For comparison, the rewrite after appending a paragraph (no manifest: {change['rewrite_path']}) took "
          f"{change['rewrite']:.2f} s (one run, peak RSS {change['rewrite_rss']:.0f} MB), against a full build "
          f"median of {big['build']:.2f} s."]
    L += ["", f"## Canned queries on the {big['size']:,}-post database", "",
          "In-process `Datasette` built from `site_settings.datasette_kwargs` (immutable, metadata.yml, plugins/, "
          f"the site's settings), `await ds.client.get(path)` with `_shape=array`, vs the same SQL on a plain "
          f"`sqlite3` connection (immutable, same parameters: the empty string for every unset one, fetching at "
          f"most max_returned_rows = {limit:,} + 1 rows as Datasette does; `:_page_size` is the default page size "
          f"{floor_q['page_size']}). Medians of 5–50 rounds after a warm-up; each round calls Datasette with the "
          f"client's JSON decoding, Datasette without it (the answer's bytes only) and sqlite3 in turn, so that the "
          f"machine's load weighs on the three alike. A request whose SQL costs nothing (`?sql=select 1`) took "
          f"{floor_q['datasette'] * 1e3:.2f} ms through Datasette: Datasette's own cost per request, which no query "
          f"answering in less than twice that in sqlite3 can keep within 1.5×.",
          "", "| query | case | rows | KB | Datasette ms | undecoded ms | sqlite3 ms | ratio | ratio undecoded | "
          "overhead ms |", "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for q in queries:
        L.append(f"| {q['query']} | {q['case']} | {q['rows']:,} | {q['bytes'] / 1024:,.0f} | {q['datasette'] * 1e3:.1f} | "
                 f"{q['undecoded'] * 1e3:.1f} | {q['sqlite'] * 1e3:.1f} | {q['ratio']:.2f}× | "
                 f"{q['ratio_undecoded']:.2f}× | {(q['datasette'] - q['sqlite']) * 1e3:.1f} |")
    L += ["", "Cases: " + "; ".join(f"{k}: {v or 'no parameters'}" for k, v in CASES.items()) +
          f"; the search query always gets {SEARCH}."]
    L += ["", "## Served site under load", "",
          f"`predictions serve` (Datasette, the site's settings) as a subprocess; an async httpx client in this "
          f"process with {CONNECTIONS} concurrent connections on loopback for {args.load_seconds} s, alternating "
          f"{' and '.join(f'`{p}`' for p in LOAD_PATHS)}. Client and server share the machine's CPUs (the "
          f"client used {load['client_cpu']:.1f} CPU-s).", "",
          "| requests | requests/s | p50 ms | p90 ms | p99 ms | max ms | errors |", "|---:|---:|---:|---:|---:|---:|---:|",
          f"| {load['requests']:,} | {load['rps']:.1f} | {load['p50'] * 1e3:.1f} | {load['p90'] * 1e3:.1f} | "
          f"{load['p99'] * 1e3:.1f} | {load['max'] * 1e3:.1f} | {load['errors']} |"]
    if load["error_samples"]:
        L += ["", "Errors: " + "; ".join(f"`{e}`" for e in load["error_samples"])]
    prev = sizes[-2] if len(sizes) > 1 else None
    worst = max(queries, key=lambda q: q["datasette"])
    worst_ratio = max(queries, key=lambda q: q["ratio"])
    slowest = max(change["changes"], key=lambda c: c["wall"])
    most = max(big["jobs"])
    targets = [
        (f"Serial build of {big['size']:,} posts ≤ 1.3× floor", f"{big['ratio']:.2f}×", big["ratio"] <= 1.3),
        (f"Build of {big['size']:,} posts with {most} workers ≤ 0.8× floor", f"{big['jobs'][most]['ratio']:.2f}×",
         big["jobs"][most]["ratio"] <= 0.8),
        (f"Build of {big['size']:,} posts peak RSS < 250 MB (serial; {most} workers)",
         f"{big['rss']:.0f} MB; {big['jobs'][most]['rss']:.0f} MB", max(big["rss"], big["jobs"][most]["rss"]) < 250),
        (f"Build of {big['size']:,} posts ≤ 2× floor", f"{big['ratio']:.2f}×", big["ratio"] <= 2),
        (f"One-post change on {big['size']:,} posts < 3 s", f"slowest {slowest['kind']} {slowest['wall']:.2f} s",
         slowest["wall"] < 3),
        (f"Build of {big['size']:,} posts < 60 s", f"{big['build']:.1f} s", big["build"] < 60),
        (f"Build of {big['size']:,} posts peak RSS < 300 MB", f"{big['rss']:.0f} MB", big["rss"] < 300),
    ]
    if prev:
        k = big["size"] / prev["size"]
        g = big["build"] / prev["build"]
        targets.append((f"Build growth {big['size']:,} / {prev['size']:,} ≤ {1.1 * k:.1f}×", f"{g:.2f}×", g <= 1.1 * k))
    targets += [
        ("Every query median < 100 ms through Datasette", f"slowest {worst['query']} [{worst['case']}] "
         f"{worst['datasette'] * 1e3:.1f} ms", worst["datasette"] < 0.1),
        ("Every query ≤ 1.5× plain sqlite3", f"worst {worst_ratio['query']} [{worst_ratio['case']}] "
         f"{worst_ratio['ratio']:.2f}×", worst_ratio["ratio"] <= 1.5),
    ]
    # the queries that can meet it: their SQL takes at least twice Datasette's own cost per request (select 1)
    heavy = [q for q in queries if q["sqlite"] >= 2 * floor_q["datasette"]] or queries
    worst_heavy = max(heavy, key=lambda q: q["ratio"])
    worst_undecoded = max(heavy, key=lambda q: q["ratio_undecoded"])
    targets += [
        (f"The same, for the {len(heavy)} of {len(queries)} whose SQL takes ≥ 2 × {floor_q['datasette'] * 1e3:.2f} ms",
         f"worst {worst_heavy['query']} [{worst_heavy['case']}] {worst_heavy['ratio']:.2f}×; without the client's "
         f"JSON decoding {worst_undecoded['query']} [{worst_undecoded['case']}] {worst_undecoded['ratio_undecoded']:.2f}×",
         worst_heavy["ratio"] <= 1.5),
        ("Zero errors under load", str(load["errors"]), load["errors"] == 0),
    ]
    L += ["", "## Targets (issues 6 and 16)", "", "| target | measured | |", "|---|---|---|"]
    L += [f"| {t} | {m} | {verdict(ok)} |" for t, m, ok in targets]
    if big["size"] != 10000:
        L += ["", f"The targets are stated for 10,000 posts; this run's largest size is {big['size']:,}."]
    return "\n".join(L) + "\n"


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="100,1000,10000", help="forecast posts per corpus, comma separated")
    ap.add_argument("--runs", type=int, default=3, help="runs of build and floor per size (medians are reported)")
    ap.add_argument("--load-seconds", type=float, default=20)
    ap.add_argument("--jobs", default="auto", help="`build --jobs` values to measure, comma separated (1 is always "
                    "measured); auto: 1, 2, 4, ... up to the usable CPUs")
    ap.add_argument("--builds-only", action="store_true", help="measure the builds and floors only (no queries, load, "
                    "one-post change); print their figures, write no RESULTS.md")
    ap.add_argument("--quick", action="store_true", help="CI smoke run: --sizes 100 --runs 1 --load-seconds 2")
    ap.add_argument("--out", type=Path, default=HERE / "RESULTS.md")
    ap.add_argument("--work", type=Path, help="scratch folder (default: a new one in /dev/shm, removed at the end)")
    ap.add_argument("--floor-child", nargs=3, metavar=("CONTENT", "ROWS_DB", "OUT_DB"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.floor_child:
        return floor_child(*args.floor_child)
    if args.quick:
        args.sizes, args.runs, args.load_seconds = "100", 1, 2
    shm, keep = Path("/dev/shm"), args.work is not None
    work = args.work or Path(tempfile.mkdtemp(prefix="predictions-bench-", dir=shm if shm.is_dir() else None))
    work.mkdir(parents=True, exist_ok=True)
    args.work = work
    start, args.load_before = time.perf_counter(), os.getloadavg()
    try:
        sizes = []
        for n in sorted(int(s) for s in args.sizes.split(",")):
            print(f"size {n}", flush=True)
            sizes.append(bench_size(n, args.runs, work, job_counts(args.jobs)))
        if args.builds_only:
            print("\n".join(build_tables(sizes)))
            return
        big = sizes[-1]
        print(f"canned queries on {big['db']}", flush=True)
        queries, limit, floor_q = asyncio.run(bench_queries(big["db"]))
        print(f"load test, {args.load_seconds} s", flush=True)
        load = load_test(big, args.load_seconds, work)
        print("one-post change", flush=True)
        change = one_post_change(big, work)
        text = report(args, sizes, queries, limit, floor_q, load, change, time.perf_counter() - start)
        old = args.out.read_text() if args.out.exists() else ""
        args.out.write_text(text + (NOTES + old.split(NOTES, 1)[1] if NOTES in old else ""))
        print(f"wrote {args.out}")
    finally:
        if not keep:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
