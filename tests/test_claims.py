"""Authors' own calibration claims beside the recomputed figures, and custom bucket edges, on the real blogs.

The claims files are the tests dataset's (written here, never shipped in the project); the figures they are
checked against are those the blogs' SOURCE.md files state, and a plain-Python tally of the built rows."""

import sqlite3

import pytest
from test_site import rows, site
from test_styles import SOURCES, build_styled

from conftest import CORPUS, run_cli

URTH_CLAIMS = """\
# The review's own folded calibration, in prose under "Summary"
post: 2020-05-02-predictions-for-2020
url: https://blog.urth.org/2021/01/29/2020-predictions-reviewed#summary
folding: folded
claims:
  - bucket: 60%
    frequency: 33%
  - bucket: 70%
    frequency: 33%
  - bucket: 80%
    frequency: 50%
  - bucket: 90%
    frequency: 80%
  - bucket: 95%
    frequency: 100%
"""
SEINMA_CLAIMS = """\
post: 2024-predictions
url: https://seinmastudios.com/posts/predictions-2024-followup/#howd-i-do
folding: unfolded
claims:
  - bucket: 0-33%
    frequency: 0%
  - bucket: 34-66%
    frequency: 25%
  - bucket: 67-100%
    frequency: ~43%
"""


def built(tmp_path, name, claims_text):
    folder = tmp_path / "claims"
    folder.mkdir()
    (folder / "review.yml").write_text(claims_text)
    s = SOURCES[name]
    db = tmp_path / "data.db"
    build_styled(db, s["root"], s["style"], s.get("base_url"), claims_dir=folder)
    return db


def tally(db, post, buckets, folded):
    """n and hits per bucket (inclusive percent ranges), in plain Python from the resolved rows."""
    conn = sqlite3.connect(db)
    got = {b: [0, 0] for b in buckets}
    for pct, value in conn.execute("select stated_percent, value from scored_predictions where post_id = ? and "
                                   "outcome in ('true', 'false')", [post]):
        if folded and pct < 50:
            pct, value = 100 - pct, 1 - value
        for lo, hi in buckets:
            if lo <= pct <= hi:
                got[lo, hi][0] += 1
                got[lo, hi][1] += value
    return {b: tuple(v) for b, v in got.items()}


async def test_urth_claims_differ_only_at_60(tmp_path):
    db = built(tmp_path, "urth", URTH_CLAIMS)
    expected = tally(db, "2020-05-02-predictions-for-2020", [(60, 60), (70, 70), (80, 80), (90, 90), (95, 95)], True)
    # SOURCE.md: recomputed from its own verdicts, 60% is 1 of 6 (17%); the others agree
    assert expected[60, 60] == (6, 1)
    ds = await site(db)
    got = await rows(ds, "claims_side_by_side")
    assert [(r["bucket"], r["n"], r["hits"], r["differs"]) for r in got] == [
        (f"{lo}%", n, hits, int(abs(claimed - hits / n) >= 0.01))
        for ((lo, _), (n, hits)), claimed in zip(expected.items(), (0.33, 0.33, 0.5, 0.8, 1.0), strict=True)]
    assert [r["bucket"] for r in got if r["differs"]] == ["60%"]
    assert got[0]["claimed_frequency"] == 0.33 and got[0]["frequency"] == pytest.approx(1 / 6)
    assert [r["bucket"] for r in await rows(ds, "claims_side_by_side", differs="1")] == ["60%"]


async def test_seinmastudios_claims_differ_in_the_two_lower_buckets(tmp_path):
    db = built(tmp_path, "seinma", SEINMA_CLAIMS)
    expected = tally(db, "2024-predictions", [(0, 33), (34, 66), (67, 100)], False)
    assert list(expected.values()) == [(14, 1), (9, 2), (7, 3)]  # SOURCE.md: 1 of 14, 2 of 9, 3 of 7
    ds = await site(db)
    got = await rows(ds, "claims_side_by_side", post="Predictions for 2024")
    assert [(r["bucket"], r["n"], r["hits"], r["differs"]) for r in got] == [
        ("0-33%", 14, 1, 1), ("34-66%", 9, 2, 1), ("67-100%", 7, 3, 0)]
    # the same buckets as custom edges of the calibration query: [0,34), [34,67), [67,101)
    calibration = [r for r in await rows(ds, "calibration", buckets="0,34,67,101") if r["series"] == "observed"]
    assert [(r["bucket"], r["n"], r["hits"]) for r in calibration] == [
        ("0% to <34%", 14, 1), ("34% to <67%", 9, 2), ("67% to 100%", 7, 3)]
    resolved = sqlite3.connect(db).execute("select stated_percent from scored_predictions where outcome in "
                                           "('true', 'false')").fetchall()
    means = [sum(p for (p,) in resolved if lo <= p < hi) / 100 / sum(lo <= p < hi for (p,) in resolved)
             for lo, hi in [(0, 34), (34, 67), (67, 101)]]
    assert [r["mean_probability"] for r in calibration] == pytest.approx(means)
    assert means[:2] == pytest.approx([0.168, 0.467], abs=5e-4)  # SOURCE.md: mean 16.8%, 46.7%
    outside = [r for r in await rows(ds, "calibration", buckets="10,50") if r["series"] == "observed"]
    inside = sum(10 <= p < 50 for (p,) in resolved)
    assert [(r["bucket"], r["n"]) for r in outside] == [("outside the edges", 30 - inside), ("10% to <50%", inside)]


@pytest.mark.parametrize("text, line, message", [
    ("post: nowhere\nclaims:\n  - bucket: 60%\n    frequency: 33%\n", 1,
     "post 'nowhere' is not a post with forecasts: name the forecast post whose verdicts the tally counts"),
    ("post: predictions-2025\nclaims:\n  - bucket: 60-40%\n    frequency: 33%\n", 3,
     "bucket '60-40%': its edges go from low to high within 0-100%"),
    ("post: predictions-2025\nclaims:\n  - bucket: 60%\n", 3, "a claim needs frequency (33%) or hits (2, with n: 6)"),
    ("post: predictions-2025\nfolding: sideways\nclaims:\n  - bucket: 60%\n    hits: 1\n", 2,
     "folding 'sideways': write folded (below 50% counted as its negation) or unfolded"),
])
def test_bad_claims_files(tmp_path, text, line, message):
    folder = tmp_path / "claims"
    folder.mkdir()
    (folder / "bad.yml").write_text(text)
    db = tmp_path / "data.db"
    result = run_cli("build", "--content", CORPUS, "--claims", folder, "--db", db, "--quiet")
    assert result.exit_code == 1 and not db.exists()
    assert f"bad.yml:{line}: {message}" in result.stderr
    assert "Traceback" not in result.stderr
