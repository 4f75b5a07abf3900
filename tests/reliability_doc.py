"""The README's reliability figures, written from .predictions/reliability.json (which the tests fill in).

The block between START and END is generated: a table of the figures, and the JSON they came from (so a
test can check that the prose was rendered from it, never typed).
"""

import json
import re

START = "<!-- FIGURES:START (written by the test suite from .predictions/reliability.json; do not edit) -->"
END = "<!-- FIGURES:END -->"
EMBEDDED = re.compile(r"<!-- figures-json: (?P<json>\{.*?\}) -->", re.DOTALL)


def n(x):
    return f"{x:,}"


def ms(seconds):
    return f"{seconds * 1000:,.0f} ms" if seconds >= 0.1 else f"{seconds * 1000:.1f} ms"


def render(f):
    """The generated block (without its markers) for figures f."""
    bad, sizes, crash, fuzz, site, load = (f.get(k, {}) for k in ("bad_inputs", "hostile_sizes", "crashes", "fuzz",
                                                                   "site", "load"))
    rows = []
    if bad:
        kinds = ", ".join(f"{k} {n(v)}" for k, v in sorted(bad["by_kind"].items()))
        rows.append(("Bad inputs tried: each answered `path:line: what is wrong, and what to do`, exit code 1, no "
                     "traceback, the previous data.db byte-identical (or, for BOM/CRLF/empty files, simply built)",
                     f"{n(bad['tried'])} ({kinds})"))
    if sizes:
        rows.append((f"Hostile sizes: {n(sizes['bytes'])}-byte inputs that made a regular expression quadratic or "
                     "worse (a run of blank lines, of spaces before `(`, of `[^`, ...), each built by a real process",
                     f"{n(sizes['cases'])} cases, each under the {sizes['timeout_s']} s bound (slowest "
                     f"{sizes['slowest_s']:.1f} s)"))
    if crash:
        rows.append((f"Builds of {n(crash['posts'])} posts killed with SIGKILL (at random moments while reading, and "
                     "while writing the temporary database)",
                     f"{n(crash['survived'])} of {n(crash['kills'])} survived ({crash['during_read']} while reading, "
                     f"{crash['during_write']} while writing): data.db byte-identical and `integrity_check` ok after "
                     f"each; the next build succeeded and removed {crash['stale_removed']} stale temporary files"))
        if crash.get("resolve_kills"):
            rows.append(("`predictions resolve` killed while writing a resolution file",
                         f"{n(crash['resolve_kills'])} kills: the file was always either the old or the new one, "
                         "complete"))
    if fuzz:
        total = sum(fuzz.values())
        parts = ", ".join(f"{k.replace('_', ' ')} {n(v)}" for k, v in sorted(fuzz.items()))
        rows.append(("Property-based fuzzing (hypothesis): arbitrary text and bytes raise nothing but the project's "
                     "own `InputError`/`Report` problems, each with its file and a line inside the file",
                     f"{n(total)} examples ({parts})"))
    if site:
        rows.append(("Hostile text in posts, resolution files and URLs (`<script>`, an `onerror` attribute, a "
                     "`javascript:` link), fetched from every page and export of the in-process site",
                     f"{n(site['pages'])} HTML pages and {n(site['exports'])} JSON/CSV exports: no script, event "
                     f"handler or `javascript:` URL reached a page; the text shown escaped on "
                     f"{n(site['pages_showing_payload'])} pages"))
        rows.append(("Arbitrary SQL: a recursive CTE that never ends; writes; a 100,000-row result",
                     f"stopped by the {n(site['time_limit_ms'])} ms limit after {site['stopped_after_s']:.1f} s, the "
                     f"next request answered in {ms(site['next_request_s'])}; {n(site['writes_refused'])} write "
                     f"attempts refused, database unchanged; results capped at {n(site['rows_cap'])} rows"))
    if load and "open_calm_p99_s" in load:
        phase = "{requests} requests: p50 {p50}, p99 {p99}, max {max}".format
        figures = {k: phase(requests=n(load[f"{k}_requests"]), p50=ms(load[f"{k}_p50_s"]), p99=ms(load[f"{k}_p99_s"]),
                            max=ms(load[f"{k}_max_s"])) for k in ("calm", "open_calm", "open_saturated", "saturated")}
        pages = f" and the pages {', '.join(f'`{p}`' for p in load['pages'])}" if load.get("pages") else ""
        rows.append((f"Load on loopback for {load['seconds']:g} s on the {len(load['queries'])} heaviest canned "
                     f"queries ({', '.join(load['queries'])}){pages}, in four phases: {load['connections']} connections "
                     f"back to back (the capacity); requests at a fixed rate of half that, at random moments, calm "
                     f"and then while {load['slow_clients']} clients keep slow arbitrary SQL saturated; the "
                     f"{load['connections']} connections again while it is",
                     f"{n(load['canned_requests'])} canned-query requests, **{n(load['canned_errors'])} errors**; "
                     f"capacity {load['capacity_rps']:,.0f} requests/s; **at {load['rate_rps']:,.0f} requests/s**: "
                     f"calm {figures['open_calm']}; **while arbitrary SQL was saturated** {figures['open_saturated']}; "
                     f"back to back: calm {figures['calm']}, saturated {figures['saturated']}; slow queries: "
                     f"{n(load['slow_stopped'])} stopped by the time limit, {n(load['slow_refused'])} refused at once "
                     f"(429), {load['slow_other']} other answers"))
    elif load:  # figures of a run before the open-loop phases
        rows.append((f"Load on loopback: {load['connections']} connections for {load['seconds']:g} s on the "
                     f"{len(load['queries'])} heaviest canned queries ({', '.join(load['queries'])}), while "
                     f"{load['slow_clients']} clients keep slow arbitrary SQL saturated (from 30% of the run on)",
                     f"{n(load['canned_requests'])} canned-query requests ({load['rps']:,.0f}/s), "
                     f"**{n(load['canned_errors'])} errors**; latency p50 {ms(load['p50_s'])}, p95 "
                     f"{ms(load['p95_s'])}, p99 {ms(load['p99_s'])}, max {ms(load['max_s'])}; before arbitrary SQL "
                     f"({n(load['calm_requests'])} requests): p50 {ms(load['calm_p50_s'])}, p99 {ms(load['calm_p99_s'])};"
                     f" **while it was saturated** ({n(load['saturated_requests'])} requests): p50 "
                     f"{ms(load['saturated_p50_s'])}, p99 {ms(load['saturated_p99_s'])}, max "
                     f"{ms(load['saturated_max_s'])}; slow queries: {n(load['slow_stopped'])} stopped by the "
                     f"time limit, {n(load['slow_refused'])} refused at once (429), {load['slow_other']} other answers"))
    lines = ["| What the tests did | Figures of the last full passing run |", "|---|---|"]
    lines += [f"| {a} | {b} |" for a, b in rows]
    return "\n".join(lines) + "\n\n<!-- figures-json: " + json.dumps(f, sort_keys=True) + " -->"


def block(text):
    """(generated block, embedded figures) found in the document text, or (None, None)."""
    if START not in text or END not in text:
        return None, None
    inner = text.split(START, 1)[1].split(END, 1)[0].strip("\n")
    m = EMBEDDED.search(inner)
    return inner, json.loads(m["json"]) if m else None


def update(figures_path, doc_path, sections):
    """Rewrite the document's block from the figures file when it holds every section; True if it did."""
    figures = json.loads(figures_path.read_text())
    if not all(s in figures for s in sections) or not doc_path.exists():
        return False
    text = doc_path.read_text()
    if START not in text or END not in text:
        return False
    before, rest = text.split(START, 1)
    after = rest.split(END, 1)[1]
    new = f"{before}{START}\n{render(figures)}\n{END}{after}"
    if new != text:
        doc_path.write_text(new)
    return True
