"""The real server in a real browser: `predictions serve` in a subprocess, Debian's chromium driven by playwright.

No mocks and no skips: without /usr/bin/chromium (`make chromium` installs it) these tests fail.
"""

import contextlib
import json
import re
import sqlite3
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import yaml
from playwright.sync_api import sync_playwright
from test_site import calibration, corpus_items

from conftest import CORPUS, ROOT, get, serving, write_site
from predictions import site_settings

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]
PREDICTIONS = Path(sys.executable).with_name("predictions")
QUERIES = yaml.safe_load(site_settings.METADATA.read_text())["databases"]["data"]["queries"]
README_HOST = "http://127.0.0.1:8001"
MARKERS = ("<!-- smoke-test:start", "<!-- smoke-test:end -->")


@pytest.fixture(scope="module")
def server(corpus_db, tmp_path_factory):
    """`predictions serve` on the whole real blog (its 2025 predictions are resolved)."""
    log = tmp_path_factory.mktemp("serve") / "serve.log"
    with serving([PREDICTIONS, "serve", "--db", corpus_db, "--content", CORPUS], log) as base:
        yield base


# Count the chart's coloured pixels by hue (axes, text and background are grey): one hue per series.
HUES = """() => {
  const canvas = document.querySelector('.vega-embed canvas');
  const data = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
  const hues = {};
  for (let i = 0; i < data.length; i += 4) {
    const [r, g, b, a] = [data[i], data[i + 1], data[i + 2], data[i + 3]];
    const max = Math.max(r, g, b), min = Math.min(r, g, b);
    if (a < 128 || max - min < 30) continue;
    let h = max === r ? (g - b) / (max - min) : max === g ? 2 + (b - r) / (max - min) : 4 + (r - g) / (max - min);
    h = Math.round(((h * 60 + 360) % 360) / 30) % 12;
    hues[h] = (hues[h] || 0) + 1;
  }
  return hues;
}"""


@contextlib.contextmanager
def browser_page(width=1280, height=1000):
    """A page of Debian's chromium; yields (page, problems): every page error, console error and failed request."""
    assert Path(CHROMIUM).is_file(), f"{CHROMIUM} is missing: `make chromium` (apt-get install chromium) installs it"
    problems = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": width, "height": height})
            page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
            page.on("console", lambda m: problems.append(f"console error: {m.text}") if m.type == "error" else None)
            page.on("response", lambda r: problems.append(f"{r.status} {r.url}") if r.status >= 400 else None)
            yield page, problems
        finally:
            browser.close()


def test_calibration_chart_draws_in_chromium(server, tmp_path):
    url = f"{server}/data/calibration#{QUERIES['calibration']['fragment']}"
    with browser_page(1200) as (page, problems):
        page.goto(url)
        page.wait_for_selector(".vega-embed canvas, .vega-embed svg", timeout=30_000)
        page.wait_for_function("() => document.querySelector('.vega-embed canvas, .vega-embed svg .mark-symbol')",
                               timeout=30_000)
        page.wait_for_timeout(500)  # let vega finish its first render
        hues = page.evaluate(HUES)
        page.screenshot(path=tmp_path / "calibration.png", full_page=True)
        # the chart options are the fragment's: points (never a zig-zag line), mean_probability against
        # frequency, colour by series
        assert page.eval_on_selector("input[name=mark][value=circle]", "e => e.checked")
        assert page.eval_on_selector("select[name=color_column]", "e => e.value") == "series"
    assert problems == []
    drawn = {h: n for h, n in hues.items() if n >= 40}
    assert len(drawn) >= 2, f"expected two coloured series, got pixel counts by hue {hues}"


# ---------------------------------------------------------------- the track record at /

# What the dashboard drew, read from its SVG (the charts render as SVG: usermeta.embedOptions in metadata.yml).
# Each Vega mark item carries an aria-label with its data ("mean_probability: 0.7; frequency: 0.5; n: 2; ...").
READ_DASHBOARD = """() => {
  const marks = (chart, name) => [...document.querySelectorAll(`#chart-${chart} svg g.${name}_marks > *`)];
  const item = e => ({label: e.getAttribute('aria-label') || '', transform: e.getAttribute('transform') || '',
                      d: e.getAttribute('d') || '', text: e.textContent,
                      x1: e.getAttribute('x2'), y2: e.getAttribute('y2')});
  const cards = {};
  for (const el of document.querySelectorAll('.dashboard-card-chart')) cards[el.id.slice(6)] = el.innerText.trim();
  return {
    diagonal: marks('calibration', 'diagonal').map(item), errorbars: marks('calibration', 'errorbars').map(item),
    points: marks('calibration', 'points').map(item), counts: marks('calibration', 'counts').map(item),
    note: marks('calibration', 'note').map(item),
    axes: [...document.querySelectorAll('#chart-calibration svg g.role-axis text')].map(t => t.textContent),
    coinflip: marks('by_year', 'coinflip').length, cards,
  };
}"""
CHART_SIZE = 340  # width and height of the calibration plot in metadata.yml


def fields(label):
    """An aria-label "a: 1; b: x" as {"a": "1", "b": "x"}."""
    return dict(part.split(": ", 1) for part in label.split("; ") if ": " in part)


def load_track_record(url, screenshot=None):
    """Open the page in chromium, wait for every chart, return what it drew and every error it logged."""
    with browser_page() as (page, problems):
        page.goto(url)
        # every card drew something: an SVG chart, a metric, a table or the Markdown text
        page.wait_for_function("""() => [...document.querySelectorAll('.dashboard-card-chart')]
                                     .every(c => c.querySelector('svg g.role-mark, p, table'))""", timeout=30_000)
        page.wait_for_timeout(300)
        drawn = page.evaluate(READ_DASHBOARD)
        if screenshot:
            page.screenshot(path=screenshot, full_page=True)
    return drawn, problems


def assert_square_plot_with_full_diagonal(drawn):
    [diagonal] = drawn["diagonal"]
    numbers = [float(x) for x in re.findall(r"-?\d+(?:\.\d+)?", diagonal["d"])]
    assert numbers == [0, CHART_SIZE, CHART_SIZE, 0], diagonal["d"]  # from (0, 0) to (1, 1) on a square plot
    ticks = [t for t in drawn["axes"] if re.fullmatch(r"\d\.\d", t)]
    assert ticks.count("0.0") == 2 and ticks.count("1.0") == 2, drawn["axes"]  # both axes fixed 0-1


def assert_points_are(drawn, expected):
    """One point, one error bar and one count label per bucket, where the bucket's numbers put them."""
    assert len(drawn["points"]) == len(drawn["errorbars"]) == len(drawn["counts"]) == len(expected)
    points = sorted((fields(p["label"]) | {"transform": p["transform"]} for p in drawn["points"]),
                    key=lambda f: (float(f["mean_probability"]), float(f["frequency"])))
    bars = sorted((fields(b["label"]) for b in drawn["errorbars"]),
                  key=lambda f: (float(f["mean_probability"]), float(f["wilson_lower"])))
    want = sorted(expected, key=lambda r: (r["mean_probability"], r["frequency"]))
    for point, bar, row in zip(points, bars, want, strict=True):
        assert float(point["mean_probability"]) == pytest.approx(row["mean_probability"], abs=1e-9)
        assert float(point["frequency"]) == pytest.approx(row["frequency"], abs=1e-9)
        assert int(point["n"]) == row["n"]
        x, y = (float(v) for v in re.findall(r"-?\d+(?:\.\d+)?", point["transform"]))
        assert x == pytest.approx(row["mean_probability"] * CHART_SIZE, abs=0.5)
        assert y == pytest.approx((1 - row["frequency"]) * CHART_SIZE, abs=0.5)
        assert float(bar["wilson_lower"]) == pytest.approx(row["wilson_lower"], abs=1e-9)
        assert float(bar["wilson_upper"]) == pytest.approx(row["wilson_upper"], abs=1e-9)
    assert sorted(int(c["text"]) for c in drawn["counts"]) == sorted(r["n"] for r in expected)


def test_track_record_of_the_whole_blog(server, tmp_path):
    drawn, problems = load_track_record(f"{server}/", tmp_path / "home.png")
    assert problems == []
    assert drawn["cards"]["brier"].startswith("0.217") and "always saying 50% scores 0.250" in drawn["cards"]["brier"]
    items = corpus_items()
    assert drawn["cards"]["resolved"] == str(sum(i["o"] is not None for i in items))
    assert drawn["cards"]["open"] == str(sum(i["o"] is None for i in items))
    assert drawn["cards"]["overdue"] == "1"  # the 2025 prediction nobody resolved
    assert_square_plot_with_full_diagonal(drawn)
    assert_points_are(drawn, calibration(items))
    assert drawn["note"] == [] and drawn["coinflip"] == 1
    folded, problems = load_track_record(f"{server}/?fold=folded&bucket=10")
    assert problems == []
    assert_points_are(folded, calibration(items, fold=True, width=10))


def test_track_record_with_nothing_resolved(tmp_path):
    """The bundled post: every forecast open. The plot keeps its axes and diagonal and says when they resolve."""
    command = [PREDICTIONS, "serve", "--db", tmp_path / "data.db"]
    with serving(command, tmp_path / "serve.log") as base:
        drawn, problems = load_track_record(f"{base}/")
    assert problems == []
    assert_square_plot_with_full_diagonal(drawn)
    assert_points_are(drawn, [])
    db = sqlite3.connect(tmp_path / "data.db")
    n, last = db.execute("select count(*), max(resolves_by) from predictions").fetchone()
    assert [fields(t["label"])["message"] for t in drawn["note"]] == [
        f"nothing resolved yet: {n} forecasts resolve by {last}"]
    assert drawn["cards"]["resolved"] == "0" and drawn["cards"]["brier"].startswith("–")


def test_track_record_with_one_bucket(tmp_path):
    """Three forecasts at 70%: one came true, one did not, one is open. One point, at (0.7, 0.5), n = 2."""
    post = ("---\ntitle: Predictions 2030\ndate: 2030-01-01\n---\n\n## Calls\n\n"
            + "".join(f"- Claim {c} comes true (_Probability: 70%_)\n" for c in "ABC"))
    content = write_site(tmp_path / "site", {"blog/predictions-2030/index.md": post})
    (tmp_path / "res").mkdir()
    (tmp_path / "res" / "predictions-2030.yml").write_text(
        "resolutions:\n" + "".join(f"  predictions-2030/calls/{i}:\n    outcome: '{o}'\n    resolved_on: 2030-12-31\n"
                                     for i, o in ((1, "true"), (2, "false"))))
    command = [PREDICTIONS, "serve", "--db", tmp_path / "data.db", "--content", content, "--resolutions", tmp_path / "res"]
    with serving(command, tmp_path / "serve.log") as base:
        drawn, problems = load_track_record(f"{base}/")
    assert problems == []
    assert_square_plot_with_full_diagonal(drawn)
    items = [dict(pct=70.0, o=o, outcome=outcome) for o, outcome in ((1.0, "true"), (0.0, "false"), (None, "open"))]
    [bucket] = calibration(items)
    assert (bucket["n"], bucket["frequency"], bucket["mean_probability"]) == (2, 0.5, 0.7)
    assert_points_are(drawn, [bucket])
    assert drawn["cards"]["brier"].startswith(f"{((0.7 - 1) ** 2 + 0.7 ** 2) / 2:.3g}")


def test_tables_fit_a_1280_px_screen(server):
    """The score tables fit whole (a one-row result reads as name: value); on the widest views the columns a reader
    needs first fit, the statement wide."""
    measure = """() => {
      const right = name => { const td = document.querySelector(`table.rows-and-columns td.col-${name}`);
                              return td ? td.getBoundingClientRect().right : null; };
      const text = document.querySelector('table.rows-and-columns td.col-text');
      return {table: document.querySelector('table.rows-and-columns').getBoundingClientRect().right,
              outcome: right('outcome'), spiegelhalter_z: right('spiegelhalter_z'), brier: right('brier_0_1'),
              text: text ? text.getBoundingClientRect().width : null, page: document.documentElement.scrollWidth};
    }"""
    with browser_page(1280, 900) as (page, _problems):
        sizes = {}
        for path in ("/data/scores", "/data/scores_by", "/data/prediction_overview", "/data/prediction_status",
                     "/data/predictions", "/data/open"):
            page.goto(server + path)
            sizes[path] = page.evaluate(measure)
    assert sizes["/data/scores"]["table"] <= 1280 and sizes["/data/scores"]["spiegelhalter_z"] <= 1280, sizes
    # 29 columns per group: the label, counts and the Brier score come first and fit, the rest scroll in their box
    assert sizes["/data/scores_by"]["brier"] <= 1280, sizes
    assert sizes["/data/prediction_overview"]["outcome"] <= 1280, sizes
    for path, size in sizes.items():
        assert size["page"] <= 1280, (path, size)  # a wide table scrolls inside its box, never the page
        if size["text"] is not None:
            assert size["text"] >= 250, (path, size)  # the statement is never squeezed


def readme_section():
    """The README's browsing section between the smoke-test markers (docs/browse.md until it is merged)."""
    for path in (ROOT / "README.md", ROOT / "docs" / "browse.md"):
        text = path.read_text(encoding="utf-8") if path.is_file() else ""
        if MARKERS[0] in text:
            return text.split(MARKERS[0], 1)[1].split(MARKERS[1], 1)[0]
    raise AssertionError(f"no {MARKERS[0]} ... {MARKERS[1]} section in README.md or docs/browse.md")


def test_readme_serve_command_and_urls(tmp_path):
    section = readme_section()
    [command] = [line.strip() for line in section.splitlines() if line.strip().startswith(".venv/bin/predictions serve")]
    urls = sorted(set(re.findall(re.escape(README_HOST) + r"/[^\s<>`'\")|]*", section)))
    for needed in ("_shape=array", "_labels=on", "_stream=on", ".csv", ".json"):
        assert any(needed in u for u in urls), f"the README shows no URL with {needed}"
    argv = [str(PREDICTIONS), *command.split()[1:], "--db", tmp_path / "data.db"]
    with serving(argv, tmp_path / "serve.log") as base:  # builds the bundled post into tmp_path/data.db first
        assert (tmp_path / "data.db").is_file()
        for url in urls:
            status, kind, body = get(base + url[len(README_HOST):].split("#")[0])
            assert status == 200, url
            path = url.split("?")[0]
            if path.endswith(".json") and "_nl=on" in url:
                assert all(json.loads(line) is not None for line in body.decode().splitlines()), url
            elif path.endswith(".json"):
                assert isinstance(json.loads(body), (list, dict)), url
            elif path.endswith(".csv"):
                assert body.decode().splitlines()[0].count(",") >= 1, url
            elif path.endswith((".atom", ".xml")):
                assert ET.fromstring(body).tag.endswith(("feed", "urlset")), url
            elif path.endswith(".db"):
                assert body.startswith(b"SQLite format 3\x00"), url
            else:
                assert "text/html" in kind and b"Datasette" in body, url
