"""Resolution files, review verdicts, overrides, conditions, and `predictions resolve`."""

import os
import sqlite3
import subprocess

import pytest
from test_reliability import PREDICTIONS

from conftest import build_db, run_cli, write_site

FORECAST = """---
title: Predictions 2031
date: 2031-01-01
---

## Grid Trouble

Brownouts will hit two states.

_Probability: 70%_

## Chips

Custom silicon takes share from the incumbent.

_Probability: 35%_

## Lightning Round

- Ads arrive in chat apps (_Probability: 60%_)
- A lab claims AGI with asterisks (_Probability: 15%_)
- Robots fold laundry at home (_Probability: 95%_)
  - Robots also iron the shirts (_Probability: 50%_)
"""

REVIEW = """---
title: Review 2031
date: 2031-12-20
---

[My predictions]({{< ref "/blog/predictions-2031" >}}) graded.

## Grid Trouble

**Prediction:** Brownouts will hit two states.\\
**Probability:** 70%

### Verdict: Correct ✅

It happened, see [the report](https://news.example/brownouts).

## Chips

**Prediction:** Custom silicon takes share.\\
**Probability:** 35%

#### Verdict: Miss ❌

Nope.

## Lightning Round Review

- **Ads arrive in chat apps (60%):** _TBD_ ⚠️\\
  Not yet.
- **A lab claims AGI with asterisks (15%):** _No Evidence_ ❌\\
  Nobody did.
- **Robots fold laundry at home (95%):** _Correct_ ✅\\
  [Demo](https://robots.example/fold).
"""


@pytest.fixture
def site(tmp_path):
    return write_site(tmp_path / "site", {
        "blog/predictions-2031/index.md": FORECAST,
        "blog/review-2031/index.md": REVIEW,
    })


def build(tmp_path, site, files=None):
    folder = tmp_path / "resolutions"
    folder.mkdir(exist_ok=True)
    for name, text in (files or {}).items():
        (folder / name).write_text(text)
    db_path = tmp_path / "data.db"
    result = run_cli("build", "--content", site, "--db", db_path, "--resolutions", folder)
    return result, db_path


def outcomes(db_path):
    return dict(sqlite3.connect(db_path).execute(
        "select prediction_id, outcome from prediction_status").fetchall())


def test_review_verdict_forms(tmp_path, site):
    result, db_path = build(tmp_path, site)
    assert result.exit_code == 0, result.output
    assert outcomes(db_path) == {
        "predictions-2031/grid-trouble/1": "true",
        "predictions-2031/chips/1": "false",
        "predictions-2031/lightning-round/1": "open",
        "predictions-2031/lightning-round/2": "false",
        "predictions-2031/lightning-round/3": "true",
        "predictions-2031/lightning-round/4": "open",
    }
    db = sqlite3.connect(db_path)
    assert db.execute("select verdict, note, resolved_on, review_url from resolutions "
                      "where prediction_id = 'predictions-2031/grid-trouble/1'").fetchone() == (
        "Correct ✅", "It happened, see the report.", "2031-12-20",
        "https://example.org/blog/review-2031/#verdict-correct-")
    assert db.execute("select url, domain from evidence").fetchall() == [
        ("https://news.example/brownouts", "news.example"), ("https://robots.example/fold", "robots.example")]
    assert db.execute("select kind, reviews_post_id from posts where id = 'review-2031'").fetchone() == (
        "review", "predictions-2031")
    assert "predictions-2031/lightning-round/4 (50%) is graded by no verdict" in result.stderr


def test_plain_link_to_the_post_url_works(tmp_path):
    review = REVIEW.replace('{{< ref "/blog/predictions-2031" >}}', "https://example.org/blog/predictions-2031/")
    site = write_site(tmp_path / "s", {"blog/predictions-2031/index.md": FORECAST, "blog/r/index.md": review})
    result, db_path = build(tmp_path, site)
    assert result.exit_code == 0 and outcomes(db_path)["predictions-2031/chips/1"] == "false"


def test_file_overrides_review_and_reports_disagreement(tmp_path, site):
    result, db_path = build(tmp_path, site, {"predictions-2031.yml": """
resolutions:
  predictions-2031/chips/1:   # the maintainer disagrees with the author
    outcome: partial
    value: 0.25
    resolved_on: 2032-01-05
    judged_by: third party
    evidence: [https://market.example/share]
  predictions-2031/lightning-round/4:
    outcome: ambiguous
"""})
    assert result.exit_code == 0, result.output
    assert "resolution file says partial, overriding the review's false ('Miss ❌'" in result.stderr
    db = sqlite3.connect(db_path)
    assert db.execute("select outcome, value, source, judged_by, review_url is not null from resolutions "
                      "where prediction_id = 'predictions-2031/chips/1'").fetchone() == (
        "partial", 0.25, "file", "third party", 1)
    status = dict(db.execute("select prediction_id, state || '/' || scored from prediction_status").fetchall())
    assert status["predictions-2031/lightning-round/4"] == "ambiguous/0"
    assert status["predictions-2031/chips/1"] == "resolved/1"
    assert status["predictions-2031/lightning-round/1"] == "open/0"  # TBD, and 2031-12-31 is still ahead


@pytest.mark.parametrize("outcome, expected", [("false", "void"), ("true", "true")])
def test_conditional_prediction_voids_when_condition_fails(tmp_path, site, outcome, expected):
    result, db_path = build(tmp_path, site, {"predictions-2031.yml": f"""
resolutions:
  predictions-2031/lightning-round/3:
    outcome: {outcome}
  predictions-2031/lightning-round/4:
    condition: predictions-2031/lightning-round/3
    outcome: true
"""})
    assert result.exit_code == 0, result.output
    assert outcomes(db_path)["predictions-2031/lightning-round/4"] == expected


BAD_FILES = [
    ("unknown-id", "resolutions:\n  predictions-2031/chip/1:\n    outcome: true\n", 2,
     "unknown prediction id 'predictions-2031/chip/1': did you mean predictions-2031/chips/1"),
    ("unknown-outcome", "resolutions:\n  predictions-2031/chips/1:\n    outcome: maybe\n", 3,
     "unknown outcome 'maybe' for predictions-2031/chips/1: use one of true, false, partial, void, ambiguous, open"),
    ("partial-no-value", "resolutions:\n  predictions-2031/chips/1:\n    outcome: partial\n", 2,
     "predictions-2031/chips/1 is partial but has no value: add `value:` between 0 and 1"),
    ("bad-date", "resolutions:\n  predictions-2031/chips/1:\n    outcome: true\n    resolved_on: soon\n", 4,
     "resolved_on 'soon' of predictions-2031/chips/1 is not a date: write YYYY-MM-DD"),
    ("duplicate", "resolutions:\n  predictions-2031/chips/1:\n    outcome: true\n"
     "  predictions-2031/chips/1:\n    outcome: false\n", 4,
     "predictions-2031/chips/1 is resolved twice in this file (also line 2): keep one entry"),
    ("not-yaml", "resolutions: [\n", 2, "not a valid YAML resolution file"),
]


@pytest.mark.parametrize("name, text, line, message", BAD_FILES, ids=[b[0] for b in BAD_FILES])
def test_bad_resolution_file(tmp_path, site, name, text, line, message):
    db_path = build_db(tmp_path / "data.db", site, tmp_path / "empty")
    before = db_path.read_bytes()
    result, _ = build(tmp_path, site, {"predictions-2031.yml": text})
    assert result.exit_code == 1
    assert f"resolutions/predictions-2031.yml:{line}: {message}" in result.stderr
    assert db_path.read_bytes() == before


def test_file_for_a_post_not_in_the_build_is_skipped(tmp_path, site):
    result, _ = build(tmp_path, site, {"predictions-1999.yml": "resolutions: {}\n"})
    assert result.exit_code == 0
    assert "no post 'predictions-1999' in this build: resolution file skipped" in result.stderr
    assert "resolution-file-skipped: 1" in result.output


def test_verdict_matching_nothing_is_an_error(tmp_path):
    review = REVIEW.replace("Robots fold laundry at home (95%)", "Quantum computers mine bitcoin (95%)")
    site = write_site(tmp_path / "s", {"blog/predictions-2031/index.md": FORECAST, "blog/r/index.md": review})
    result, _ = build(tmp_path, site)
    assert result.exit_code == 1
    assert "blog/r/index.md:32: verdict 'Correct ✅' on 'Quantum computers mine bitcoin' (95%) matches no " \
           "prediction of the graded post" in result.stderr


def test_resolve_round_trips_a_file_with_comments(tmp_path, site):
    folder = tmp_path / "resolutions"
    folder.mkdir()
    original = (
        "# Kept by hand. Do not lose this comment.\n"
        "resolutions:\n"
        "  # the grid one\n"
        "  predictions-2031/grid-trouble/1:\n"
        "    outcome: true  # obvious\n"
    )
    (folder / "predictions-2031.yml").write_text(original)
    result = run_cli("resolve", "predictions-2031/chips/1", "--outcome", "partial", "--value", "0.4",
                     "--note", "Some share", "--source", "https://market.example/q4", "--on", "2032-01-10",
                     "--content", site, "--resolutions", folder)
    assert result.exit_code == 0, result.output
    text = (folder / "predictions-2031.yml").read_text()
    assert text.startswith(original)
    assert "  predictions-2031/chips/1:\n    outcome: partial\n    value: 0.4\n    resolved_on: 2032-01-10\n" in text
    result, db_path = build(tmp_path, site)
    assert result.exit_code == 0, result.output
    db = sqlite3.connect(db_path)
    assert db.execute("select outcome, value, note, resolved_on from resolutions "
                      "where prediction_id = 'predictions-2031/chips/1'").fetchone() == (
        "partial", 0.4, "Some share", "2032-01-10")
    assert db.execute("select url from evidence where prediction_id = 'predictions-2031/chips/1'").fetchall() == [
        ("https://market.example/q4",)]


def test_resolve_rejects_unknown_ids_and_partial_without_value(tmp_path, site):
    folder = tmp_path / "resolutions"
    result = run_cli("resolve", "predictions-2031/chip/1", "--outcome", "true", "--content", site,
                     "--resolutions", folder)
    assert result.exit_code == 2 and "did you mean predictions-2031/chips/1" in result.output
    result = run_cli("resolve", "predictions-2031/chips/1", "--outcome", "partial", "--content", site,
                     "--resolutions", folder)
    assert result.exit_code == 2 and "--outcome partial needs --value" in result.output
    assert not folder.exists()


def test_exact_restatement_wins_over_a_near_twin(tmp_path):
    forecast = FORECAST.replace("- Ads arrive in chat apps (_Probability: 60%_)",
                                "- Ads arrive in chat apps during 2031 (_Probability: 60%_)\n"
                                "- Ads arrive in chat apps in 2031 (_Probability: 60%_)")
    review = REVIEW.replace("- **Ads arrive in chat apps (60%):** _TBD_ ⚠️",
                            "- **Ads arrive in chat apps in 2031 (60%):** _Miss_ ❌\\\n  No.\n"
                            "- **Ads arrive in chat apps during 2031 (60%):** _Correct_ ✅")
    site = write_site(tmp_path / "s", {"blog/predictions-2031/index.md": forecast, "blog/r/index.md": review})
    result, db_path = build(tmp_path, site)
    assert result.exit_code == 0, result.output
    got = outcomes(db_path)
    assert (got["predictions-2031/lightning-round/1"], got["predictions-2031/lightning-round/2"]) == ("true", "false")


# ---------------------------------------------------------------- the resolutions folder (issue 15, item 6)

ENTRY = "resolutions:\n  predictions-2031/chips/1:\n    outcome: true\n"


def fifo(folder):
    os.mkfifo(folder / "predictions-2031.yml")


def directory(folder):
    (folder / "predictions-2031.yml").mkdir()


def both(folder):
    (folder / "predictions-2031.yml").write_text(ENTRY)
    (folder / "predictions-2031.yaml").write_text(ENTRY.replace("chips", "grid-trouble"))


def two_files(folder):
    (folder / "predictions-2031.yml").write_text(ENTRY)
    (folder / "review-2031.yml").write_text("# a copy kept by mistake\n" + ENTRY)


HUGE = ENTRY + "    note: '" + "x" * (6 << 20) + "'\n"


def huge(folder):
    (folder / "predictions-2031.yml").write_text(HUGE)


def dangling(folder):
    (folder / "predictions-2031.yml").symlink_to(folder / "gone.yml")


HOSTILE_FOLDERS = [
    (fifo, "resolutions/predictions-2031.yml: not a regular file (a folder, a pipe or a broken link?)"),
    (directory, "resolutions/predictions-2031.yml: not a regular file"),
    (dangling, "resolutions/predictions-2031.yml: not a regular file"),
    (both, "resolutions/predictions-2031.yml: predictions-2031.yaml also holds the resolutions of 'predictions-2031'"),
    (two_files, "resolutions/review-2031.yml:3: predictions-2031/chips/1 is also resolved in "),
    (huge, f"resolutions/predictions-2031.yml: file is {len(HUGE.encode()):,} bytes, over the {5 << 20:,}-byte limit"),
]


@pytest.mark.parametrize("make, message", HOSTILE_FOLDERS, ids=[h[0].__name__ for h in HOSTILE_FOLDERS])
def test_hostile_resolution_folders(tmp_path, site, make, message):
    """A real process with a deadline: a pipe used to block the build forever."""
    db_path = build_db(tmp_path / "data.db", site, tmp_path / "empty")
    before = db_path.read_bytes()
    folder = tmp_path / "resolutions"
    folder.mkdir()
    make(folder)
    done = subprocess.run([PREDICTIONS, "build", "--content", site, "--db", db_path, "--resolutions", folder],
                          capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert done.returncode == 1 and "Traceback" not in done.stderr, done.stderr
    assert message in done.stderr
    assert db_path.read_bytes() == before


def test_only_yml_and_yaml_files_are_resolution_files(tmp_path, site):
    result, db_path = build(tmp_path, site, {"predictions-2031.yXml": ENTRY, "README.md": "# notes\n",
                                             ".predictions-2031.yml.lock": ""})
    assert result.exit_code == 0, result.output
    assert "resolutions/predictions-2031.yXml: not a resolution file (only .yml and .yaml files are read)" in result.stderr
    assert "resolutions/README.md: not a resolution file" in result.stderr and "lock" not in result.stderr
    assert outcomes(db_path)["predictions-2031/chips/1"] == "false"  # the review's verdict, not the .yXml file's


def test_a_yaml_file_is_read_and_resolved_in_place(tmp_path, site):
    folder = tmp_path / "resolutions"
    folder.mkdir()
    (folder / "predictions-2031.yaml").write_text(ENTRY)
    result = run_cli("resolve", "predictions-2031/grid-trouble/1", "--outcome", "false", "--content", site,
                     "--resolutions", folder)
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in folder.iterdir() if not p.name.startswith(".")) == ["predictions-2031.yaml"]
    result, db_path = build(tmp_path, site)
    assert outcomes(db_path)["predictions-2031/grid-trouble/1"] == "false"
