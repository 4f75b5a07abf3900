"""The published dataset (issue 17): datasets/published-forecasts builds offline from the copies in ../shared/corpus
through PREDICTIONS_FROM (the config is never edited), with each blog's counts, licenses and claims."""

import datetime as dt
import json
import os
import re
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from conftest import ROOT, SHARED

FOLDER = ROOT / "datasets" / "published-forecasts"
PREDICTIONS = Path(sys.executable).with_name("predictions")
CORPUS = SHARED / "corpus"
LOCAL = {"aimlbling-about": "aimlbling-about", "blog-urth-org": "blog.urth.org", "seinmastudios": "seinmastudios.com",
         "czinn-web": "czinn-web", "erwald-blog": "erwald-blog"}
LICENSES = {"aimlbling-about": "CC BY-NC 4.0", "blog-urth-org": "CC BY-SA 4.0", "seinmastudios": "MIT",
            "czinn-web": "CC BY 4.0", "erwald-blog": "CC BY-SA 4.0"}


def predictions(*args, cwd=FOLDER):
    env = {**os.environ, "PREDICTIONS_FROM": " ".join(f"{k}={CORPUS / v}" for k, v in LOCAL.items())}
    done = subprocess.run([PREDICTIONS, *map(str, args)], cwd=cwd, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    return done


@pytest.fixture(scope="module")
def registry(tmp_path_factory):
    where = tmp_path_factory.mktemp("registry")
    config = (FOLDER / "predictions.toml").read_bytes()
    predictions("build", "--quiet", "--db", where / "data.db")
    assert (FOLDER / "predictions.toml").read_bytes() == config
    return where / "data.db"


def query(db, sql, *params):
    conn = sqlite3.connect(db)
    try:
        return conn.execute(sql, params).fetchall()
    finally:
        conn.close()


def expected_counts(build_date):
    """Per blog: forecasts, resolved (true/false/partial), void or ambiguous, open, overdue (SOURCE.md facts)."""
    late_2026 = build_date > dt.date(2026, 12, 31)  # AI/MLbling About's 2026 forecasts resolve by 31 December
    return {
        # 13 forecasts for 2025: 12 resolved, one "TBD" verdict still open past its date; 12 for 2026
        "aimlbling-about": (25, 12, 0, 0 if late_2026 else 12, 13 if late_2026 else 1),
        # 28 graded for 2020 (13 true, 14 false, 1 ambiguous); 5 long-term ones to be judged at the end of 2025
        "blog-urth-org": (33, 27, 1, 0, 5),
        # 2024: 31 graded (6 true, 24 false, 1 void); 2025: 57 never graded
        "seinmastudios": (88, 30, 1, 0, 57),
        "czinn-web": (36, 0, 0, 0, 36),  # 2021, never graded
        # veganism 6 and AstraZeneca 4 graded; the 2 "On 1 January 2050" forecasts open
        "erwald-blog": (12, 10, 0, 2, 0),
    }


def test_every_blog_with_its_counts(registry):
    build_date = dt.date.fromisoformat(query(registry, "select value from build_info where key = 'build_date'")[0][0])
    rows = query(registry, """select source_id, count(*), sum(state = 'resolved'), sum(state in ('void', 'ambiguous')),
                              sum(state = 'open'), sum(state = 'overdue') from prediction_status group by 1""")
    assert {r[0]: tuple(r[1:]) for r in rows} == expected_counts(build_date)
    outcomes = dict(query(registry, """select source_id, group_concat(outcome, ' ') from (select source_id, outcome
                                        from prediction_status where state = 'resolved' order by 1, 2) group by 1"""))
    assert outcomes["blog-urth-org"].split().count("true") == 13 and outcomes["blog-urth-org"].count("false") == 14
    assert outcomes["seinmastudios"].split().count("true") == 6 and outcomes["seinmastudios"].count("false") == 24
    assert outcomes["erwald-blog"].split().count("true") == 7 and outcomes["erwald-blog"].count("false") == 3
    assert query(registry, "select count(*) from predictions where post_id like '%predictions-for-2022'") == [(0,)]


def test_one_license_per_source_on_every_row_and_its_commit_pin(registry):
    rows = query(registry, "select s.id, s.license, s.repository from sources s order by s.id")
    assert {r[0]: r[1] for r in rows} == LICENSES
    config = (FOLDER / "predictions.toml").read_text()
    for source, repo in [("blog-urth-org", "autarch/blog.urth.org"), ("czinn-web", "czinn/web"),
                         ("erwald-blog", "erwald/blog"), ("seinmastudios", "shaldengeki/seinmastudios.com")]:
        assert f"https://github.com/{repo}" in config
        commit = re.search(r"commit `([0-9a-f]{40})`", (CORPUS / LOCAL[source] / "SOURCE.md").read_text())[1]
        assert f'ref = "{commit}"' in config, source  # pinned to the commit its SOURCE.md names
    per_row = query(registry, "select distinct source_id, license from prediction_overview")
    assert dict(per_row) == LICENSES
    assert query(registry, "select count(*) from prediction_overview where license is null") == [(0,)]


def test_licenses_travel_with_the_exports_and_the_site(registry, tmp_path):
    predictions("export", "--db", registry, "--out", tmp_path / "out")
    pkg = json.loads((tmp_path / "out" / "datapackage.json").read_text())
    blogs = {s["title"]: s for s in pkg["sources"] if "license" in s}
    assert {s["license"] for s in blogs.values()} == set(LICENSES.values())
    assert all("source_id" in s["rows"] for s in blogs.values())
    nc = next(s for s in blogs.values() if s["license"] == "CC BY-NC 4.0")
    sa = [s for s in blogs.values() if s["license"] == "CC BY-SA 4.0"]
    assert "non-commercial" in nc["obligations"] and all("same license" in s["obligations"] for s in sa)
    licence_text = (tmp_path / "out" / "LICENSE.md").read_text()
    for source in LICENSES:
        if any((CORPUS / LOCAL[source] / n).is_file() for n in ("LICENSE", "LICENSE.md")):
            assert f"Legal code: {source}" in licence_text
    about = predictions("serve", "--db", registry, "--get", "/about").stdout
    for name in ("CC BY-NC 4.0", "CC BY-SA 4.0", "MIT", "CC BY 4.0", "non-commercial use only", "same license"):
        assert name in about, name


def test_each_authors_calibration_beside_their_own_claims(registry):
    rows = query(registry, "select post_id, bucket, claimed_frequency, n, hits, differs from claim_comparison "
                           "order by post_id, claim_id")
    claims = {(p, b): (n, hits, differs) for p, b, _f, n, hits, differs in rows}
    # recomputed here from the verdicts: folded for urth (a forecast under 50% counts as its negation)
    resolved = query(registry, "select post_id, stated_percent, value from scored_predictions where outcome in "
                               "('true', 'false') and post_id in ('urth-2020-05-02-predictions-for-2020', "
                               "'seinma-2024-predictions')")
    urth = [(100 - p, 1 - v) if p < 50 else (p, v) for post, p, v in resolved if post.startswith("urth")]
    six = [v for p, v in urth if p == 60]
    assert claims[("urth-2020-05-02-predictions-for-2020", "60%")] == (len(six), sum(six), 1) == (6, 1, 1)
    seinma = [(p, v) for post, p, v in resolved if post.startswith("seinma")]
    low = [v for p, v in seinma if p <= 33]
    mid = [v for p, v in seinma if 34 <= p <= 66]
    high = [v for p, v in seinma if p >= 67]
    assert claims[("seinma-2024-predictions", "0-33%")] == (len(low), sum(low), 1) == (14, 1, 1)
    assert claims[("seinma-2024-predictions", "34-66%")] == (len(mid), sum(mid), 1) == (9, 2, 1)
    assert claims[("seinma-2024-predictions", "67-100%")] == (len(high), sum(high), 0) == (7, 3, 0)
    assert sum(d for *_, d in claims.values()) == 3  # every other claim agrees with the author's own verdicts


def test_the_registry_config_is_documented_and_every_claims_file_names_its_source(registry):
    for path in (FOLDER / "claims").glob("*.yml"):
        data = yaml.safe_load(path.read_text())
        assert data["url"].startswith("https://") and data["claims"], path
        assert query(registry, "select count(*) from posts where id = ?", data["post"]) == [(1,)], path


def test_authors_side_by_side_with_n_and_intervals(registry):
    page = predictions("serve", "--db", registry, "--get", "/data/scores_by.json?by=source&_shape=array").stdout
    rows = {r["key"]: r for r in json.loads(page[page.index("["):])}
    assert set(rows) == set(LICENSES)
    for source, r in rows.items():
        scored = query(registry, "select s.probability, s.value from scored_predictions s join posts p on "
                                 "p.id = s.post_id where p.source_id = ? and s.outcome in ('true', 'false', 'partial')",
                       source)
        assert r["n_resolved"] == len(scored)
        if scored:  # the Brier score recomputed here, and an interval around it
            brier = sum((f - o) ** 2 for f, o in scored) / len(scored)
            assert abs(r["brier_0_1"] - brier) < 1e-12
            assert r["brier_0_1_ci95_low"] <= brier <= r["brier_0_1_ci95_high"]
        else:
            assert r["brier_0_1"] is None
    assert rows["blog-urth-org"]["label"] == "House Absolute(ly Pointless)"
