"""Bad input gets a clear answer and loses nothing; builds survive SIGKILL; hostile sizes stay fast.

Extends the bad-input suites of test_extract.py (BAD_INPUTS) and test_resolutions.py (BAD_FILES) with the
cases issue 7 adds; conftest counts every passing case of these suites as one "bad input tried".
"""

import hashlib
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from reliability_doc import START, block, render

from conftest import FIGURE_SECTIONS, RELIABILITY_DOC, build_db, record_figures, run_cli, write_site

PREDICTIONS = str(Path(sys.executable).with_name("predictions"))  # the console script, as users run it
FRONT = "---\ntitle: Predictions 2030\ndate: 2030-01-02\n---\n"
GOOD = FRONT + "## S\n\nClaim.\n\n_Probability: 60%_\n"  # the marker is on line 9
BOMB = "\n".join(["a: &a [x, x, x, x, x, x, x, x, x]"] + [  # 9**9 strings once expanded ("billion laughs")
    f"{c}: &{c} [{', '.join([f'*{p}'] * 9)}]" for p, c in zip("abcdefgh", "bcdefghi", strict=True)])


def sha(path):
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def integrity(db_path):
    conn = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    try:
        return conn.execute("pragma integrity_check").fetchall(), conn.execute("select count(*) from posts").fetchone()[0]
    finally:
        conn.close()


def build_with(tmp_path, files, resolutions=None):
    """Build a good site, then add files and build again: (result, db path, the first build's bytes)."""
    content = write_site(tmp_path / "site", {"blog/ok/index.md": GOOD})
    folder = tmp_path / "resolutions"
    folder.mkdir()
    db_path = build_db(tmp_path / "data.db", content, folder)
    before = db_path.read_bytes()
    for rel, text in files.items():
        path = content / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(text if isinstance(text, bytes) else text.encode())
    for name, text in (resolutions or {}).items():
        (folder / name).write_bytes(text if isinstance(text, bytes) else text.encode())
    result = run_cli("build", "--content", content, "--db", db_path, "--resolutions", folder)
    return result, db_path, before


def assert_refused(result, db_path, before, where, message):
    assert result.exit_code == 1, result.output + result.stderr
    assert f"{where}: {message}" in result.stderr, result.stderr
    assert "Traceback" not in result.output + result.stderr
    assert db_path.read_bytes() == before


# ---------------------------------------------------------------- bad posts

MORE_BAD_POSTS = [
    ("toml-invalid", "+++\ntitle = \n+++\n## S\n", 2, "front matter is not valid TOML (Invalid value"),
    ("toml-open", "+++\ntitle = 'x'\n\nBody.\n", 1, "front matter opened with +++ is never closed: add a closing +++ line"),
    ("front-matter-list", "---\n- a\n- b\n---\nBody.\n", 2,
     "front matter is not a mapping of keys to values: write `key: value` lines"),
    ("impossible-date", GOOD.replace("2030-01-02", "2030-13-45"), 2,
     "front matter is not valid YAML (month must be in 1..12): fix the values"),
    ("yaml-nested-too-deep", "---\na: " + "[" * 5000 + "]" * 5000 + "\n---\nBody.\n", 2, "front matter is not valid YAML ("),
    ("toml-nested-too-deep", "+++\na = " + "[" * 5000 + "]" * 5000 + "\n+++\nBody.\n", 2,
     "front matter is not valid TOML (nested too deeply): fix the values"),
    ("billion-laughs-title", f"---\n{BOMB}\ntitle: *i\n---\nBody.\n", 11,
     "front matter `title` is a list, not a single value: write `title: text`"),
    ("billion-laughs-tags", f"---\n{BOMB}\ntags: *i\n---\nBody.\n", 11,
     "front matter `tags` is a list holding a list or mapping, not a list of names"),
    ("tags-a-number", GOOD.replace("date: 2030-01-02", "date: 2030-01-02\ntags: 5"), 4,
     "front matter `tags` is a number, not a list of names: write `tags: [a, b]` or one `- name` line each"),
    ("authors-text", GOOD.replace("date: 2030-01-02", "date: 2030-01-02\nauthors: Ann Author"), 4,
     "front matter `authors` is text, not a list of names, or of `name:`/`link:`/`image:` entries"),
    ("draft-text", GOOD.replace("date: 2030-01-02", 'date: 2030-01-02\ndraft: "true"'), 4,
     "front matter `draft` is text, not true or false: write `draft: true`"),
    ("resolves-by", GOOD.replace("date: 2030-01-02", "date: 2030-01-02\nresolves_by: someday"), 4,
     "resolves_by 'someday' is not a date: write it as YYYY-MM-DD"),
    ("marker-decimal-above-1", GOOD.replace("_Probability: 60%_", "Probability: 1.5"), 9,
     "probability '1.5' is above 100%: write it as a percent (70%), a decimal between 0 and 1 (0.7) or 50/50"),
    ("marker-twice-in-a-list-item", FRONT + "## S\n\n- Claim (_Probability: 60%_) (_Probability: 70%_)\n", 7,
     "probability marker '70%' closes an empty passage (a second marker for the same passage?)"),
    ("marker-twice-on-a-line", FRONT + "## S\n\nClaim. Probability: 70% Probability: 80%\n", 7,
     "probability marker '80%' closes an empty passage (a second marker for the same passage?)"),
    ("not-utf8-front-matter", b"---\ntitle: \xff\n---\nBody.\n", 2, "file is not UTF-8 (byte 11): save it as UTF-8"),
    ("utf-16", "\ufeff".encode("utf-16-le") + GOOD.encode("utf-16-le"), 1, "file is UTF-16, not UTF-8: save it as UTF-8"),
    # issue 15: slugs that break ids, files and URLs; dates with trailing text; NUL; nesting markdown-it skips
    ("slug-with-a-slash", GOOD.replace("date: 2030-01-02", 'date: 2030-01-02\nslug: "a/b"'), 4,
     "front matter `slug` gives the slug 'a/b', which holds a / or \\: it would break prediction ids"),
    ("slug-climbing", GOOD.replace("date: 2030-01-02", 'date: 2030-01-02\nslug: "../../etc"'), 4,
     "front matter `slug` gives the slug '../../etc', which holds a / or \\"),
    ("slug-dots", GOOD.replace("date: 2030-01-02", 'date: 2030-01-02\nslug: ".."'), 4,
     "front matter `slug` gives the slug '..', which starts with a dot"),
    ("slug-tab", GOOD.replace("date: 2030-01-02", 'date: 2030-01-02\nslug: "a\\tb"'), 4,
     "front matter `slug` gives the slug 'a\\tb', which holds a control character (U+0009)"),
    ("date-with-trailing-text", GOOD.replace("date: 2030-01-02", "date: 2030-01-02 is not a date at all"), 3,
     "date '2030-01-02 is not a date at all' is not a date: write it as YYYY-MM-DD"),
    ("resolves-by-before-the-date", GOOD.replace("date: 2030-01-02", "date: 2030-01-02\nresolves_by: 2029-12-31"), 4,
     "resolves_by 2029-12-31 is before the post's date 2030-01-02: a forecast resolves after it is made"),
    ("nul-in-a-title", GOOD.replace("title: Predictions 2030", 'title: "Predictions\\0 2030"'), 2,
     "front matter `title` holds a control character (U+0000): remove it"),
    ("escape-in-a-tag", GOOD.replace("date: 2030-01-02", 'date: 2030-01-02\ntags: ["a\\eb"]'), 4,
     "front matter `tags` holds a control character (U+001B): remove it"),
    ("list-nested-1000-deep", FRONT + "## S\n\n" + "".join("  " * k + f"- Claim {k} (_Probability: 60%_)\n"
                                                             for k in range(1000)), 16,
     "lists or blockquotes nested too deeply for the Markdown parser (over 20 levels; a list item counts two)"),
    ("blockquote-nested-1000-deep", FRONT + "## S\n\n" + ">" * 1000 + " Claim _Probability: 60%_\n", 7,
     "lists or blockquotes nested too deeply for the Markdown parser"),
]


@pytest.mark.parametrize("name, text, line, message", MORE_BAD_POSTS, ids=[b[0] for b in MORE_BAD_POSTS])
def test_more_bad_posts(tmp_path, name, text, line, message):
    result, db_path, before = build_with(tmp_path, {"blog/bad/index.md": text})
    assert_refused(result, db_path, before, "blog/bad/index.md" + (f":{line}" if line else ""), message)


def test_post_over_the_size_limit_is_refused_unread(tmp_path):
    """20 MB is refused with the stated limit; a 4 GB (sparse) file too, without being loaded into memory."""
    big = "x" * (20 * 1024 * 1024)
    result, db_path, before = build_with(tmp_path, {"blog/big/index.md": big})
    assert_refused(result, db_path, before, "blog/big/index.md",
                   "file is 20,971,520 bytes, over the 5,242,880-byte limit for a post: split it")
    huge = tmp_path / "site" / "content" / "blog" / "huge" / "index.md"
    huge.parent.mkdir()
    with huge.open("wb") as f:
        f.truncate(4 << 30)
    (tmp_path / "site" / "content" / "blog" / "big" / "index.md").unlink()
    result = run_cli("build", "--content", tmp_path / "site" / "content", "--db", db_path,
                     "--resolutions", tmp_path / "resolutions")
    assert_refused(result, db_path, before, "blog/huge/index.md", "file is 4,294,967,296 bytes, over the 5,242,880-byte")


def test_special_files_are_reported_not_read(tmp_path):
    """A named pipe called *.md would block a reader forever; a broken link cannot be read. A real process, with a
    deadline, so that a regression fails instead of hanging the suite."""
    content = write_site(tmp_path / "site", {"blog/ok/index.md": GOOD})
    db_path = build_db(tmp_path / "data.db", content, tmp_path / "none")
    before = db_path.read_bytes()
    os.mkfifo(content / "blog" / "pipe.md")
    (content / "blog" / "gone.md").symlink_to(tmp_path / "nowhere.md")
    done = subprocess.run([PREDICTIONS, "build", "--content", content, "--db", db_path, "--resolutions",
                           tmp_path / "none"], capture_output=True, text=True, timeout=60, cwd=tmp_path / "site")
    assert done.returncode == 1
    for name in ("pipe.md", "gone.md"):
        assert f"content/blog/{name}: not a regular file (a pipe, device or broken link?): remove it" in done.stderr
    assert "Traceback" not in done.stderr and db_path.read_bytes() == before


def test_posts_that_would_publish_what_they_should_not(tmp_path):
    """A file name that cannot be an id (a newline, a tab: issue 15, item 8), and a post linked from outside the
    content root (item 12): each refused with its file, nothing written."""
    outside = tmp_path / "private" / "diary.md"
    outside.parent.mkdir()
    outside.write_text(GOOD.replace("Claim.", "My private plans."))
    files = {"blog/new\nline.md": GOOD, "blog/a\tb/index.md": GOOD}
    result, db_path, before = build_with(tmp_path, files)
    assert result.exit_code == 1 and db_path.read_bytes() == before
    assert "the file name gives the slug 'new\\nline', which holds a control character (U+000A)" in result.stderr
    assert "the file name gives the slug 'a\\tb', which holds a control character (U+0009)" in result.stderr
    for rel in files:
        (tmp_path / "site" / "content" / rel).unlink()
    (tmp_path / "site" / "content" / "blog" / "diary.md").symlink_to(outside)
    result = run_cli("build", "--content", tmp_path / "site" / "content", "--db", db_path,
                     "--resolutions", tmp_path / "resolutions")
    assert_refused(result, db_path, before, "blog/diary.md", f"a link to a file outside the content root ({outside})")


def test_markers_in_code_and_html_are_not_predictions(tmp_path):
    """The README: code and HTML never hold predictions, inline code and inline comments included (item 10)."""
    body = FRONT + ("## S\n\nWrite it as `_Probability: 70%_` in a post.\n\n"
                    "A comment <!-- _Probability: 60%_ --> is not one.\n\n"
                    "Nor a <span title='Probability: 40%'>tag</span>.\n\n"
                    "- An item with code `(_Probability: 30%_)`\n\n"
                    "A real one, after `code`.\n\n_Probability: 80%_\n")
    content = write_site(tmp_path / "site", {"blog/p/index.md": body})
    db = sqlite3.connect(build_db(tmp_path / "data.db", content, tmp_path / "none"))
    rows = db.execute("select stated_percent, text from predictions").fetchall()
    assert [r[0] for r in rows] == [80.0] and rows[0][1].endswith("A real one, after code.")


def test_urls_are_percent_encoded(tmp_path):
    post = GOOD.replace("date: 2030-01-02", 'date: 2030-01-02\nslug: "what? #1 100%"')
    content = write_site(tmp_path / "site", {"blog/p/index.md": post})
    db = sqlite3.connect(build_db(tmp_path / "data.db", content, tmp_path / "none"))
    assert db.execute("select id, url from posts").fetchall() == [
        ("what? #1 100%", "https://example.org/blog/what%3F%20%231%20100%/")]


REVIEW_LINK = '[My predictions]({{< ref "/blog/ok" >}}) graded.\n\n'
MUST_WORK = [
    ("inline-footnote", {"blog/p/index.md": FRONT + "## S\n\nPower grows 2^[10] times.\n\n_Probability: 60%_\n"}, 2),
    ("verdict-heading-in-a-list-and-a-quote", {"blog/r/index.md": "---\ntitle: Review\ndate: 2030-12-30\n---\n"
     + REVIEW_LINK + "## S\n\n**Prediction:** Claim.\\\n**Probability:** 60%\n\n### Verdict: Correct ✅\n\nYes.\n\n"
     "> ## A quoted heading\n\n- ## A heading in a list\n"}, 1),
    ("folder-named-like-a-post", {"blog/notes.md/index.md": GOOD.replace("Claim.", "Other claim.")}, 2),
    ("lone-cr-line-ends", {"blog/p/index.md": GOOD.replace("Claim.", "Another.").replace("\n", "\r")}, 2),
    ("no-break-space-in-marker", {"blog/p/index.md": GOOD.replace("Claim.", "Third.").replace(": 60%", ":\u00a060%")}, 2),
    ("empty-front-matter", {"blog/p/index.md": "---\n---\n## S\n\nFourth.\n\n_Probability: 60%_\n"}, 2),
]


@pytest.mark.parametrize("name, files, predictions", MUST_WORK, ids=[m[0] for m in MUST_WORK])
def test_inputs_that_must_simply_work(tmp_path, name, files, predictions):
    result, db_path, _ = build_with(tmp_path, files)
    assert result.exit_code == 0, result.stderr
    assert "Traceback" not in result.output + result.stderr
    db = sqlite3.connect(db_path)
    assert db.execute("select count(*) from predictions").fetchone() == (predictions,)
    if name.startswith("verdict"):
        assert db.execute("select outcome from resolutions").fetchall() == [("true",)]


def test_a_post_just_under_the_limit_is_processed(tmp_path):
    paragraphs = "".join(f"Paragraph {i}, ordinary words on forecasting, and [a link](https://e.example/{i}).\n\n"
                         for i in range(57_000))
    text = FRONT + "## S\n\n" + paragraphs + "Claim.\n\n_Probability: 60%_\n"
    assert 4_500_000 < len(text.encode()) < 5 * 1024 * 1024
    result, db_path, _ = build_with(tmp_path, {"blog/long/index.md": text})
    assert result.exit_code == 0, result.stderr
    assert sqlite3.connect(db_path).execute("select count(*) from predictions").fetchone() == (2,)


# ---------------------------------------------------------------- bad resolution files

FORECAST = FRONT.replace("2030", "2031") + "## Grid\n\nBrownouts.\n\n_Probability: 70%_\n\n## Chips\n\nShare.\n\n" \
    "_Probability: 35%_\n"
MORE_BAD_FILES = [
    ("key-is-a-list", "resolutions:\n  ? [a, b]\n  : {outcome: true}\n", 2,
     "`resolutions` has a key that is a list or mapping: write `name: value` lines"),
    ("outcome-is-a-list", "resolutions:\n  f/chips/1:\n    outcome: [true]\n", 3,
     "`outcome` of f/chips/1 must be a single value, not a list or mapping"),
    ("billion-laughs-outcome", f"{BOMB}\nresolutions:\n  f/chips/1:\n    outcome: *i\n", 12,
     "`outcome` of f/chips/1 must be a single value, not a list or mapping"),
    ("value-not-a-number", "resolutions:\n  f/chips/1:\n    outcome: partial\n    value: lots\n", 4,
     "value 'lots' of f/chips/1 must be a number between 0 and 1"),
    ("value-above-1", "resolutions:\n  f/chips/1:\n    outcome: partial\n    value: 1.5\n", 4,
     "value '1.5' of f/chips/1 must be a number between 0 and 1"),
    ("value-on-a-true-outcome", "resolutions:\n  f/chips/1:\n    outcome: true\n    value: 0.5\n", 4,
     "`value` is only for a partial outcome (f/chips/1 is true)"),
    ("top-level-list", "- f/chips/1\n", 1, "the file must be a mapping of `key: value` lines"),
    ("no-resolutions-key", "other: 1\n", 1,
     "no `resolutions:` mapping: write `resolutions:` and one entry per prediction id"),
    ("unknown-field", "resolutions:\n  f/chips/1:\n    outcome: true\n    result: x\n", 4,
     "unknown field 'result' for f/chips/1: use outcome, value, resolved_on, verdict, note, judged_by, evidence, condition"),
    ("unknown-judge", "resolutions:\n  f/chips/1:\n    outcome: true\n    judged_by: me\n", 4,
     "judged_by 'me' of f/chips/1: use one of author, maintainer, third party"),
    ("unknown-condition", "resolutions:\n  f/chips/1:\n    outcome: true\n    condition: f/nope/1\n", 4,
     "condition 'f/nope/1' of f/chips/1 is not a known prediction id"),
    ("nested-evidence", "resolutions:\n  f/chips/1:\n    outcome: true\n    evidence: [[https://e.example]]\n", 4,
     "evidence of f/chips/1 must be URLs, or `url:`/`title:` pairs"),
    ("field-written-twice", "resolutions:\n  f/chips/1:\n    outcome: true\n    outcome: false\n", 4,
     "key 'outcome' is written twice: keep one"),
    ("not-utf8", b"resolutions:\n  f/chips/1:\n    note: \xff\n", None,
     "not a valid YAML resolution file ('utf-8' codec can't decode byte 0xff"),
    ("nested-too-deep", "resolutions:\n  f/chips/1: " + "[" * 3000 + "]" * 3000 + "\n", None,
     "not a valid YAML resolution file (nested too deeply): fix the syntax"),
]


@pytest.mark.parametrize("name, text, line, message", MORE_BAD_FILES, ids=[b[0] for b in MORE_BAD_FILES])
def test_more_bad_resolution_files(tmp_path, name, text, line, message):
    content = write_site(tmp_path / "site", {"blog/f/index.md": FORECAST})
    folder = tmp_path / "resolutions"
    folder.mkdir()
    db_path = build_db(tmp_path / "data.db", content, folder)
    before = db_path.read_bytes()
    (folder / "f.yml").write_bytes(text if isinstance(text, bytes) else text.encode())
    result = run_cli("build", "--content", content, "--db", db_path, "--resolutions", folder)
    assert_refused(result, db_path, before, "resolutions/f.yml" + (f":{line}" if line else ""), message)


# ---------------------------------------------------------------- warnings are counted, never silent


def test_drafts_and_ungraded_predictions_are_counted_in_the_summary(tmp_path):
    review = ("---\ntitle: Review 2031\ndate: 2031-12-30\n---\n" + REVIEW_LINK.replace("/blog/ok", "/blog/f")
              + "## Grid\n\n**Prediction:** Brownouts.\\\n**Probability:** 70%\n\n### Verdict: Correct ✅\n\nYes.\n")
    content = write_site(tmp_path / "site", {"blog/f/index.md": FORECAST, "blog/r/index.md": review,
                                             "blog/d/index.md": GOOD.replace("---\n##", "draft: true\n---\n##")})
    result = run_cli("build", "--content", content, "--db", tmp_path / "data.db", "--resolutions", tmp_path / "none")
    assert result.exit_code == 0, result.stderr
    assert "posts read: 2 (1 drafts skipped)" in result.output
    assert "warnings: 2\n  draft: 1\n  ungraded: 1\n" in result.output
    assert "blog/f/index.md:15: f/chips/1 (35%) is graded by no verdict in " in result.stderr
    assert "blog/r/index.md; it stays open" in result.stderr
    db = sqlite3.connect(tmp_path / "data.db")
    assert db.execute("select kind, count(*) from build_warnings group by kind order by kind").fetchall() == [
        ("draft", 1), ("ungraded", 1)]


# ---------------------------------------------------------------- hostile sizes

N = 300_000  # bytes: the old expressions took minutes (or forever) on each of these; now well under a second
REVIEW = REVIEW_LINK.replace("/blog/ok", "/blog/f") + "- **Brownouts (70%):** ✅\n\n"
HOSTILE = {
    "blank-lines": "Claim.\n" + "\n" * N + "More.\n",
    "indented-blank-lines": "Claim.\n" + "\n " * (N // 2) + "\nMore.\n",
    "spaces-before-a-paren-after-a-marker": "Claim. Probability:" + " " * N + "(x)\n",
    "tabs-before-a-paren-after-a-marker": "Claim. Probability:" + "\t" * N + "(x)\n",
    "markers-on-one-line": "Claim " + "Probability: " * (N // 13) + "(\n",
    "spaces-in-a-paragraph": "Claim" + " " * N + "x\n\n_Probability: 50%_\n",
    "junk-before-a-marker": "Claim" + " ," * (N // 2) + "x _Probability: 50%_\n",
    "spaces-in-a-heading": "## Title" + " " * N + "x {#id}\n",
    "footnote-openers": "[^" * (N // 2) + "\n",
    "review-item-spaces": REVIEW + "- **claim" + " " * N + "x (70%)\n",
    "review-item-spaces-after-the-percent": REVIEW + "- **claim (70%)" + " " * N + "x\n",
    "list-marker-then-blank-lines": "-" + "\n" * N + "x\n",
    "bare-percent-then-spaces": "- claim (70%)" + " " * N + "x\n",
    "tag-comment-spaces": None,  # in the front matter, below
    "emphasis": "*a " * (N // 3) + "\n",
    "link-openers": "[a](" * (N // 4) + "\n",
    "links-in-a-paragraph": "[a](b) " * (N // 7) + "\n",  # 42,857 links: 2 minutes when child_links was quadratic
}
TIMEOUT = 60
_sizes = {}


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_sizes_finish_in_bounded_time(tmp_path, name):
    front = {"tag-comment-spaces": "---\ntitle: P\ntags:\n  # meta" + " " * N + "x\n  - a\n---\n",
             "bare-percent-then-spaces": "---\ntitle: P\nforecasts: true\n---\n"}.get(name, "---\ntitle: P\n---\n")
    body = front + (HOSTILE[name] or "x\n")
    content = write_site(tmp_path / "site", {"blog/f/index.md": FORECAST, "blog/p/index.md": body})
    start = time.perf_counter()
    done = subprocess.run([PREDICTIONS, "lint", "--content", content, "--resolutions", tmp_path / "none"],
                          capture_output=True, text=True, timeout=TIMEOUT)
    _sizes[name] = time.perf_counter() - start
    assert done.returncode in (0, 1) and "Traceback" not in done.stderr, done.stderr[-2000:]
    if name == "markers-on-one-line":
        assert "probability marker has no value" in done.stderr
    if len(_sizes) == len(HOSTILE):
        record_figures("hostile_sizes", cases=len(_sizes), bytes=N, timeout_s=TIMEOUT,
                       slowest_s=round(max(_sizes.values()), 2))


# ---------------------------------------------------------------- SIGKILL at any moment


def forecast_post(i):
    sections = "".join(
        f"## Topic {s} of post {i}\n\nContext on topic {s}, with a source [^n{s}] and [a link](https://e{s}.example/{i}).\n\n"
        f"Claim {s} of post {i} comes true.\n\n_Probability: {(s * 13 + i) % 99 + 1}%_\n\n" for s in range(6))
    items = "".join(f"- Quick claim {k} of {i} (_Probability: {(k * 7 + i) % 99 + 1}%_)\n" for k in range(6))
    notes = "".join(f"[^n{s}]: [Source {s}](https://src.example/{i}/{s})\n" for s in range(6))
    return (f"---\ntitle: Predictions {2000 + i % 30} number {i}\ndate: 2020-01-{i % 28 + 1:02d}\ntags: [a, b]\n"
            f"authors:\n  - name: Author {i % 7}\n---\n\n{sections}## Lightning Round\n\n{items}\n{notes}")


def temps(db_path):
    return set(db_path.parent.glob(f".{db_path.name}.*.tmp"))


def start_build(content, db_path, folder, stderr=subprocess.DEVNULL):
    return subprocess.Popen([PREDICTIONS, "build", "--content", content, "--db", db_path, "--resolutions", folder, "-q"],
                            stdout=subprocess.DEVNULL, stderr=stderr)


def timed_build(content, db_path, folder):
    """A full build, polled: (seconds until its temporary database appeared, seconds to the end)."""
    start, proc, appeared = time.perf_counter(), start_build(content, db_path, folder, subprocess.PIPE), None
    while proc.poll() is None:
        if appeared is None and temps(db_path):
            appeared = time.perf_counter() - start
        time.sleep(0.002)
    assert proc.returncode == 0, proc.stderr.read()
    return appeared, time.perf_counter() - start


def kill_at(content, db_path, folder, delay, after_temp, known):
    """Start a build and SIGKILL it `delay` s after it starts (or after a temporary file not in known appears)."""
    proc, deadline = start_build(content, db_path, folder), time.perf_counter() + 120
    while after_temp and not (temps(db_path) - known) and proc.poll() is None and time.perf_counter() < deadline:
        time.sleep(0.001)
    time.sleep(delay)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=60)
    return proc.returncode


def test_builds_killed_at_any_moment_leave_the_previous_database_usable(tmp_path):
    posts = 1200
    content = write_site(tmp_path / "site", {f"blog/p{i:04d}/index.md": forecast_post(i) for i in range(posts)})
    folder, db_path = tmp_path / "none", tmp_path / "out" / "data.db"
    timed_build(content, db_path, folder)  # a first build fills the incremental cache

    def add(name, i):
        (content / "blog" / name).mkdir()
        (content / "blog" / name / "index.md").write_text(forecast_post(i))

    add("y-new", posts)
    posts += 1
    appeared, total = timed_build(content, db_path, folder)  # the previous database; the cache warm, as below
    assert appeared is not None and not temps(db_path)
    add("zz-new", posts)  # a killed build that got to its end would write a different database
    write = max(total - appeared, 0.05)
    schedule = [(f * appeared, False) for f in (0.1, 0.35, 0.6, 0.85)]
    schedule += [(f * write, True) for f in (0.0, 0.05, 0.15, 0.25, 0.35, 0.45, 0.55, 0.65)]
    previous, landed, read_kills, write_kills, left = sha(db_path), 0, 0, 0, set()
    known = set()
    for delay, after_temp in schedule:
        for attempt in range(4):  # a kill that comes too late (the build finished) is tried again, earlier
            rc = kill_at(content, db_path, folder, delay / 2 ** attempt, after_temp, known)
            if sha(db_path) != previous:  # the build got as far as its rename: a complete, new database
                assert integrity(db_path) == ([("ok",)], posts + 1)
                previous = sha(db_path)
            if rc == -signal.SIGKILL:
                break
        assert rc == -signal.SIGKILL, f"the build always finished before the kill at {delay:.3f} s"
        landed += 1
        read_kills += not after_temp
        write_kills += after_temp
        assert sha(db_path) == previous, "a killed build changed data.db"
        checked, count = integrity(db_path)
        assert checked == [("ok",)] and count in (posts, posts + 1)
        left |= temps(db_path) - known
        known |= temps(db_path)
    assert write_kills and left, "no kill landed while the temporary database was being written"
    alive = db_path.with_name(f".{db_path.name}.{os.getpid()}.tmp")  # a live process's file: not stale, kept
    alive.write_bytes(b"in progress")
    done = subprocess.run([PREDICTIONS, "build", "--content", content, "--db", db_path, "--resolutions", folder, "-q"],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert temps(db_path) == {alive}, "the next build left stale temporary files"
    alive.unlink()
    assert integrity(db_path) == ([("ok",)], posts + 1)
    record_figures("crashes", posts=posts + 1, kills=landed, survived=landed, during_read=read_kills,
                   during_write=write_kills, stale_removed=len(left), build_s=round(total, 2))


def writing(folder, path, size):
    """Whether `predictions resolve` has started writing: its temporary file exists, or (as the code before the
    fix wrote in place) the file itself changed size."""
    return bool(list(folder.glob(".f.yml.*.tmp"))) or path.stat().st_size != size


def test_resolve_killed_while_writing_keeps_the_old_file_or_the_new_one(tmp_path):
    """`predictions resolve` rewrites a hand-kept file: killed mid-write, the file is the old one or the new one.
    A big file (1,500 resolved predictions) makes the write long enough to land kills inside it."""
    n = 1500
    items = "".join(f"- Claim {k} (_Probability: {k % 99 + 1}%_)\n" for k in range(n))
    content = write_site(tmp_path / "site", {"blog/f/index.md": FRONT + "## Round\n\n" + items})
    folder = tmp_path / "resolutions"
    folder.mkdir()
    entries = "".join(f"  f/round/{k}:  # kept by hand\n    outcome: true\n    note: \"{'Evidence. ' * 8}\"\n"
                      for k in range(2, n + 1))
    path = folder / "f.yml"
    path.write_text("# The maintainer's notes: nothing here may be lost.\nresolutions:\n" + entries)
    old = path.read_bytes()
    argv = [PREDICTIONS, "resolve", "f/round/1", "--outcome", "false", "--note", "Killed?", "--content", content,
            "--resolutions", folder]

    def run(kill_after=None):
        """Run resolve; return when its write began and ended (s), or kill it kill_after s into the write."""
        proc, start, began, ended = subprocess.Popen(argv, stdout=subprocess.DEVNULL), time.perf_counter(), None, None
        while proc.poll() is None and time.perf_counter() - start < 120:
            now, busy = time.perf_counter() - start, writing(folder, path, len(old))
            if began is None and busy:
                began = now
            if began is not None and kill_after is not None and now - began >= kill_after:
                proc.send_signal(signal.SIGKILL)
                break
            if began is not None and ended is None and not list(folder.glob(".f.yml.*.tmp")):
                ended = now
            time.sleep(0.0005)
        proc.wait(timeout=60)
        return proc.returncode, began, ended

    rc, began, ended = run()
    assert rc == 0 and began is not None and ended is not None
    window, kills = ended - began, 0
    for fraction in (0.0, 0.2, 0.4, 0.6, 0.8):
        path.write_bytes(old)
        rc, _, _ = run(kill_after=fraction * window)
        kills += rc == -signal.SIGKILL
        text = path.read_bytes()
        if text != old:
            data = yaml.safe_load(text)
            assert text.startswith(old[:60]) and len(data["resolutions"]) == n, "a killed resolve lost the file"
            assert data["resolutions"]["f/round/1"]["outcome"] is False
        for stale in folder.glob(".f.yml.*.tmp"):
            stale.unlink()
    assert kills >= 3
    record_figures("crashes", resolve_kills=kills)


# ---------------------------------------------------------------- the figures document


def test_reliability_doc_quotes_figures_rendered_from_the_tests():
    """The README's figures block is rendered from the JSON the tests wrote, never typed (conftest rewrites it
    after a passing run that produced every section)."""
    text = RELIABILITY_DOC.read_text()
    assert START in text
    generated, figures = block(text)
    assert figures is not None and generated == render(figures)
    for section in FIGURE_SECTIONS:
        assert section in figures, f"the document has no {section} figures: run the whole suite once"
