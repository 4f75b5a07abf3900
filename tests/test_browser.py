"""The real server in a real browser: `predictions serve` in a subprocess, Debian's chromium driven by playwright.

No mocks and no skips: without /usr/bin/chromium (`make chromium` installs it) these tests fail.
"""

import json
import re
import sys
from pathlib import Path

import pytest
import yaml
from playwright.sync_api import sync_playwright

from conftest import CORPUS, ROOT, get, serving
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
    if (a < 128 || max - min < 60) continue;
    let h = max === r ? (g - b) / (max - min) : max === g ? 2 + (b - r) / (max - min) : 4 + (r - g) / (max - min);
    h = Math.round(((h * 60 + 360) % 360) / 30) % 12;
    hues[h] = (hues[h] || 0) + 1;
  }
  return hues;
}"""


def test_calibration_chart_draws_in_chromium(server, tmp_path):
    assert Path(CHROMIUM).is_file(), f"{CHROMIUM} is missing: `make chromium` (apt-get install chromium) installs it"
    url = f"{server}/data/calibration#{QUERIES['calibration']['fragment']}"
    problems = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1200, "height": 1000})
            page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
            page.on("console", lambda m: problems.append(f"console error: {m.text}") if m.type == "error" else None)
            page.on("response", lambda r: problems.append(f"{r.status} {r.url}") if r.status >= 400 else None)
            page.goto(url)
            page.wait_for_selector(".vega-embed canvas, .vega-embed svg", timeout=30_000)
            page.wait_for_function("() => document.querySelector('.vega-embed canvas, .vega-embed svg .mark-line')",
                                   timeout=30_000)
            page.wait_for_timeout(500)  # let vega finish its first render
            hues = page.evaluate(HUES)
            page.screenshot(path=tmp_path / "calibration.png", full_page=True)
            # the chart options are the fragment's: line, mean_probability against frequency, colour by series
            assert page.eval_on_selector("input[name=mark][value=line]", "e => e.checked")
            assert page.eval_on_selector("select[name=color_column]", "e => e.value") == "series"
        finally:
            browser.close()
    assert problems == []
    drawn = {h: n for h, n in hues.items() if n >= 40}
    assert len(drawn) >= 2, f"expected two coloured series, got pixel counts by hue {hues}"


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
            elif path.endswith(".db"):
                assert body.startswith(b"SQLite format 3\x00"), url
            else:
                assert "text/html" in kind and b"Datasette" in body, url
