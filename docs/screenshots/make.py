"""Pictures of the site for the README: `.venv/bin/python docs/screenshots/make.py`.

Serves the whole AI/MLbling About blog (../shared/corpus, with the project's resolution files) and the
bundled post with the real `predictions serve`, opens each page in Debian's chromium at 1280 px and writes
into docs/screenshots/:
  track-record.png         / of the whole blog: headline figures, calibration, distributions, misses
  calibration.png          the calibration plot alone, folded, 10-point buckets
  prediction.png           a resolved prediction's own page
  nothing-resolved.png     / of the bundled post, where every forecast is still open
  registry.png             / of the published dataset (datasets/published-forecasts: five blogs), built offline
                           from ../shared/corpus through PREDICTIONS_FROM
The verdicts' emoji need a colour emoji font (Debian: apt-get install fonts-noto-color-emoji).
"""

import argparse
import os
import sys
import tempfile
from pathlib import Path

from playwright.sync_api import sync_playwright

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(ROOT / "tests"))
from conftest import CORPUS, SHARED, serving  # noqa: E402  (the tests' way to run a real `predictions serve`)

PREDICTIONS = Path(sys.executable).with_name("predictions")
CHROMIUM = "/usr/bin/chromium"
CHARTS_DRAWN = """() => [...document.querySelectorAll('.dashboard-card-chart')]
                        .every(c => c.querySelector('svg g.role-mark, p, table'))"""
# A prediction of 2025 with a verdict, a note, evidence and a reference
PREDICTION = "/data/predictions/predictions-2025~2F5050-large-frontier-model-performance~2F1"


def shoot(browser, url, path, wait_for=None, full_page=True):
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    errors = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.goto(url)
    if wait_for:
        page.wait_for_function(wait_for, timeout=30_000)
    page.wait_for_timeout(500)
    page.screenshot(path=path, full_page=full_page)
    page.close()
    if errors:
        sys.exit(f"{url}: {errors}")
    print(f"wrote {path.relative_to(ROOT)}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=CORPUS, help="content folder of the whole blog")
    parser.add_argument("--out", type=Path, default=HERE)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp, sync_playwright() as p:
        tmp = Path(tmp)
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        try:
            blog = [PREDICTIONS, "serve", "--db", tmp / "blog" / "data.db", "--content", args.corpus]
            (tmp / "blog").mkdir()
            with serving(blog, tmp / "blog.log") as base:
                shoot(browser, f"{base}/", args.out / "track-record.png", CHARTS_DRAWN)
                shoot(browser, f"{base}/-/dashboards/track-record/calibration?fold=folded&bucket=10",
                      args.out / "calibration.png", "() => document.querySelector('svg g.points_marks > *')",
                      full_page=False)
                shoot(browser, f"{base}{PREDICTION}", args.out / "prediction.png", full_page=False)
            (tmp / "bundled").mkdir()
            with serving([PREDICTIONS, "serve", "--db", tmp / "bundled" / "data.db"], tmp / "bundled.log") as base:
                shoot(browser, f"{base}/", args.out / "nothing-resolved.png", CHARTS_DRAWN)
            (tmp / "registry").mkdir()
            local = {"aimlbling-about": "aimlbling-about", "blog-urth-org": "blog.urth.org",
                     "seinmastudios": "seinmastudios.com", "czinn-web": "czinn-web", "erwald-blog": "erwald-blog"}
            os.environ["PREDICTIONS_FROM"] = " ".join(f"{k}={SHARED / 'corpus' / v}" for k, v in local.items())
            registry = [PREDICTIONS, "serve", "--db", tmp / "registry" / "data.db"]
            with serving(registry, tmp / "registry.log", cwd=ROOT / "datasets" / "published-forecasts") as base:
                shoot(browser, f"{base}/", args.out / "registry.png", CHARTS_DRAWN)
        finally:
            browser.close()


if __name__ == "__main__":
    main()
