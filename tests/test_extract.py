"""Extraction on small posts written for the tests: every marker form, and every bad input."""

import re
import sqlite3
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import build_db, run_cli, write_site
from predictions import markdown as md
from predictions.errors import Report
from predictions.extract import extract
from predictions.markers import find_markers

FRONT = "---\ntitle: Predictions 2030\ndate: 2030-01-02\nauthors:\n  - name: Ann Author\n    link: https://a.example\n" \
        "tags:\n  # meta\n  - opinion\n  # topic\n  - energy\n---\n"


def predictions(body, bare=False):
    report = Report()
    result, _ = extract("p", "post.md", body, 1, report, bare=bare)
    assert not report.errors, report.errors
    return result.predictions


@pytest.mark.parametrize("written, percent", [
    ("_Probability: 90%_", "90"), ("**Probability:** 70%", "70"), ("Probability: 0.7", "70"),
    ("_Probability: 70 %_", "70"), ("_Probability: 50/50_", "50"), ("_Probability: 15%_", "15"),
    ("_Probability: 35%_", "35"), ("_Probability: 95%_", "95"), ("_Probability: 99.5%_", "99.5"),
    ("_Probability: 0%_", "0"), ("Probability: 0.35", "35"),
])
def test_marker_values_are_exact(written, percent):
    (m,) = find_markers(written)
    assert m.error is None and m.percent == Decimal(percent)


def test_headline_passage_runs_from_heading_or_previous_marker():
    body = "## Power\n\nFirst claim.\nStill first.\n\n_Probability: 90%_\n\nSecond claim.\n\n_Probability: 70%_\n"
    first, second = predictions(body)
    assert (first.id, first.text, first.kind, first.line) == ("p/power/1", "First claim. Still first.", "headline", 6)
    assert (second.id, second.text, str(second.stated_percent)) == ("p/power/2", "Second claim.", "70")


def test_list_items_nested_and_two_markers():
    body = (
        "## Lightning Round\n\n"
        "- Ads arrive (_Probability: 100%_).\\\n  Commentary here.\n"
        "- Labs merge (_Probability: 80%_).\n"
        "  - A sub-claim (_Probability: 60%_).\n"
        "- Push continues (_Probability: 100%_), but clouds win (_Probability: 70%_)\n"
        "- Power concerns grow (_Probability: 50%_),\n  with brownouts (_Probability: 30%_)\n"
    )
    got = predictions(body)
    assert [(p.text, str(p.stated_percent), p.parent_id, p.depends_on_id) for p in got] == [
        ("Ads arrive", "100", None, None),
        ("Labs merge", "80", None, None),
        ("A sub-claim", "60", "p/lightning-round/2", None),
        ("Push continues", "100", None, None),
        ("but clouds win", "70", None, "p/lightning-round/4"),
        ("Power concerns grow", "50", None, None),
        ("with brownouts", "30", None, "p/lightning-round/6"),
    ]
    assert got[0].commentary_markdown == "Commentary here."
    assert got[-1].line == 9


def test_marker_in_admonition_is_a_note():
    body = ("## Arch\n\nMain claim.\n\n_Probability: 75%_\n\n"
            "> [!NOTE]\n> Bonus:\\\n> Old things return\\\n> _Probability: 60%_\n")
    main, note = predictions(body)
    assert (note.kind, note.text, str(note.stated_percent), note.line) == ("note", "Bonus: Old things return", "60", 10)


def test_hugo_callout_shortcode_is_a_note():
    """The old `{{< callout >}}` shortcode (with <br> breaks) reads as today's `> [!NOTE]`: same kind, same text,
    no shortcode text in the statement; the line numbers are the file's."""
    body = ("## Arch\n\nMain claim.\n\n_Probability: 75%_\n\n"
            "{{< callout >}}\nBonus:<br>\nOld things return<br>\n_Probability: 60%_\n{{< /callout >}}\n\n"
            '{{< callout type="info" >}}\nAn aside.\n{{< /callout >}}\n\nNext claim.\n\n_Probability: 20%_\n')
    main, note, after = predictions(body)
    assert (note.kind, note.text, str(note.stated_percent), note.line) == ("note", "Bonus: Old things return", "60", 10)
    assert (after.kind, after.text, after.line) == ("headline", "An aside. Next claim.", 19)
    assert "{{" not in note.passage_markdown + after.passage_markdown


def test_shortcode_inside_a_code_fence_stays_code():
    body = "## A\n\n```\n{{< callout >}}\nx _Probability: 60%_\n{{< /callout >}}\n```\n"
    assert predictions(body) == []


def test_percentages_that_are_not_forecasts():
    body = (
        "## 60% Performance Improvement\n\n85% of surveyed models improved (70%).\n\n"
        "| model | share |\n|---|---|\n| a | 40% |\n\n- the rate was 12% (85%)\n\n"
        "It has a probability of 30%.\n"
    )
    assert predictions(body) == []


def test_bare_percent_closes_a_list_item_only_when_asked():
    body = "## Quick\n\n- Rain tomorrow (70%)\n"
    assert predictions(body) == []
    (p,) = predictions(body, bare=True)
    assert (p.text, str(p.stated_percent)) == ("Rain tomorrow", "70")


def test_ids_are_stable_when_other_sections_change():
    base = "## A\n\nOne.\n\n_Probability: 60%_\n\n## B\n\nTwo.\n\n_Probability: 40%_\n"
    edited = "Intro.\n\n## New\n\nZero.\n\n_Probability: 10%_\n\n" + base.replace("One.", "One, reworded.")
    assert [p.id for p in predictions(base)] == ["p/a/1", "p/b/1"]
    assert [p.id for p in predictions(edited)] == ["p/new/1", "p/a/1", "p/b/1"]


def test_build_writes_the_tables(tmp_path):
    body = FRONT + "Intro [link](https://x.example/a).\n\n## Grid\n\nBrownouts happen [^grid].\n\n" \
                   "_Probability: 35%_\n\n[^grid]: [Grid report](https://www.grid.example/r)\n"
    content = write_site(tmp_path / "site", {"blog/p30/index.md": body, "blog/_index.md": "---\ntitle: Blog\n---\n"})
    db = sqlite3.connect(build_db(tmp_path / "data.db", content, tmp_path / "none"))
    assert db.execute("select id, url, year, resolves_by, kind from posts").fetchall() == [
        ("p30", "https://example.org/blog/p30/", 2030, "2030-12-31", "forecast")]
    assert db.execute("select id, stated_percent, probability, url from predictions").fetchall() == [
        ("p30/grid/1", 35.0, 0.35, "https://example.org/blog/p30/#grid")]
    assert db.execute("select r.title, r.domain from prediction_references pr join \"references\" r "
                      "on r.id = pr.reference_id").fetchall() == [("Grid report", "grid.example")]
    assert db.execute("select tag_id, tag_group from post_tags order by position").fetchall() == [
        ("opinion", "meta"), ("energy", "topic")]
    assert db.execute("select count(*) from predictions_fts where predictions_fts match 'brownouts'").fetchone() == (1,)


def test_post_forms_and_drafts(tmp_path):
    one = "## S\n\nClaim.\n\n_Probability: 60%_\n"
    content = write_site(tmp_path / "site", {
        "blog/single.md": "---\ntitle: Single\ndate: 2024-03-01\n---\n" + one,
        "blog/toml/index.md": "+++\ntitle = \"Toml\"\ndate = 2024-02-29\nslug = \"renamed\"\n+++\n" + one,
        "_posts/2024-05-06-jekyll.md": "---\ntitle: Jekyll\n---\n" + one,
        "blog/draft/index.md": "---\ntitle: Draft\ndraft: true\n---\n" + one,
    })
    db_path = tmp_path / "data.db"
    result = run_cli("build", "--content", content, "--db", db_path, "--resolutions", tmp_path / "none")
    assert result.exit_code == 0, result.output
    assert "posts read: 3 (1 drafts skipped)" in result.output
    assert "draft skipped" in result.stderr
    db = sqlite3.connect(db_path)
    assert db.execute("select id, url, resolves_by from posts order by id").fetchall() == [
        ("jekyll", "https://example.org/2024/05/06/jekyll.html", "2025-05-06"),
        ("renamed", "https://example.org/blog/renamed/", "2025-02-28"),
        ("single", "https://example.org/blog/single/", "2025-03-01"),
    ]
    assert db.execute("select kind, path from build_warnings").fetchall()[0][0] == "draft"
    result = run_cli("build", "--content", content, "--db", tmp_path / "d2.db", "--drafts", "--resolutions", tmp_path)
    assert "posts read: 4 (0 drafts skipped)" in result.output


def test_crlf_and_bom_simply_work(tmp_path):
    text = "\ufeff" + (FRONT + "## S\n\nClaim.\n\n_Probability: 60%_\n").replace("\n", "\r\n")
    content = write_site(tmp_path / "site", {"blog/crlf/index.md": text})
    db = sqlite3.connect(build_db(tmp_path / "data.db", content, tmp_path / "none"))
    assert db.execute("select text, line from predictions").fetchall() == [("Claim.", 17)]


GOOD = FRONT + "## S\n\nClaim.\n\n_Probability: 60%_\n"
BAD_INPUTS = [
    ("marker-words", GOOD.replace("60%", "high"), 17,
     "cannot read probability 'high': write it as a percent (70%), a decimal between 0 and 1 (0.7) or 50/50"),
    ("marker-150", GOOD.replace("60%", "150%"), 17, "probability '150%' is above 100%"),
    ("marker-negative", GOOD.replace("60%", "-5%"), 17, "probability '-5%' is negative"),
    ("marker-empty", GOOD.replace("60%", ""), 17, "probability marker has no value"),
    ("marker-twice", GOOD + "\n_Probability: 70%_\n", 19,
     "probability marker '70%' closes an empty passage (a second marker for the same passage?)"),
    ("front-matter-yaml", GOOD.replace("title: Predictions 2030", "title: [unclosed"), 3,
     "front matter is not valid YAML"),
    ("front-matter-open", GOOD.replace("---\n## S", "## S"), 1, "front matter opened with --- is never closed"),
    ("date", GOOD.replace("2030-01-02", "next tuesday"), 3, "date 'next tuesday' is not a date: write it as YYYY-MM-DD"),
    ("footnote", GOOD.replace("Claim.", "Claim [^nope]."), 15,
     "footnote [^nope] is cited but never defined: add a line `[^nope]: [title](url)`"),
    ("not-utf8", GOOD.encode().replace(b"Claim", b"Cl\xe9im"), 15, "file is not UTF-8"),
    ("binary", b"\x00\x01\x02PNG", None, "file is binary, not Markdown"),
]


@pytest.mark.parametrize("name, text, line, message", BAD_INPUTS, ids=[b[0] for b in BAD_INPUTS])
def test_bad_input_names_file_and_line_and_leaves_db_untouched(tmp_path, name, text, line, message):
    good = write_site(tmp_path / "site", {"blog/ok/index.md": GOOD})
    db_path = build_db(tmp_path / "data.db", good, tmp_path / "none")
    before = db_path.read_bytes()
    (good / "blog" / "bad").mkdir()
    (good / "blog" / "bad" / "index.md").write_bytes(text if isinstance(text, bytes) else text.encode())
    result = run_cli("build", "--content", good, "--db", db_path, "--resolutions", tmp_path / "none")
    assert result.exit_code == 1
    where = "blog/bad/index.md" + (f":{line}" if line else "")
    assert f"{where}: {message}" in result.stderr
    assert "Traceback" not in result.output
    assert db_path.read_bytes() == before
    lint = run_cli("lint", "--content", good, "--resolutions", tmp_path / "none")
    assert lint.exit_code == 1 and message in lint.stderr


def test_duplicate_prediction_ids(tmp_path):
    content = write_site(tmp_path / "a", {"blog/same/index.md": GOOD})
    other = write_site(tmp_path / "b", {"notes/same.md": GOOD})
    result = run_cli("build", "--content", content, "--content", other, "--db", tmp_path / "x.db",
                     "--resolutions", tmp_path / "none")
    assert result.exit_code == 1
    assert "two posts have the slug 'same'" in result.stderr
    assert "two predictions have the id 'same/s/1'" in result.stderr
    assert not (tmp_path / "x.db").exists()


def test_empty_file_is_a_post_without_predictions(tmp_path):
    content = write_site(tmp_path / "site", {"blog/empty/index.md": "", "blog/ok/index.md": GOOD})
    db = sqlite3.connect(build_db(tmp_path / "data.db", content, tmp_path / "none"))
    assert db.execute("select id, prediction_count from posts order by id").fetchall() == [("empty", 0), ("ok", 1)]


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("ab \n\t.,;:'\"()-#+=|/%é\u00a0")), max_size=60))
def test_text_without_inline_syntax_is_its_own_plain_text(text):
    """digest() skips parsing a piece with no character an inline rule starts at: the parser must agree."""
    parsed = [t.children for p in re.split(r"\n\s*\n", text) for t in md.parser().parseInline(p)[:1]]
    expected = md.SPACES.sub(" ", " ".join(md.inline_text(c) for c in parsed)).strip()
    assert md.digest(text) == (expected, [])
