"""Property-based fuzzing (hypothesis) of the post reader, the marker grammar, the resolution file reader and the
review reader: arbitrary text and bytes never raise anything but the project's own error reporting (Report
problems, InputError), and every problem names its file and, when it has one, a line inside that file.

Example counts are modest for CI on two cores; each test counts the examples it ran into the figures.
"""

import os
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from conftest import record_figures, write_site
from predictions import build as pipeline
from predictions import database
from predictions.errors import InputError, Report, display
from predictions.extract import extract
from predictions.markers import find_markers, read_value
from predictions.posts import read_post
from predictions.resolutions import FileReader

EXAMPLES = 300
# CI runs a fixed, reproducible set of examples (derandomize); a developer's run explores new ones each time.
FUZZ = settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck),
                derandomize=bool(os.environ.get("CI")))
COUNTS = {}


@pytest.fixture(scope="module", autouse=True)
def figures():
    yield
    record_figures("fuzz", **COUNTS)


@pytest.fixture(scope="module")
def work():
    with tempfile.TemporaryDirectory() as d:
        yield Path(d)


def count(name):
    COUNTS[name] = COUNTS.get(name, 0) + 1


def lines_in(data):
    """Lines of a file as the reader numbers them (CRLF, CR and LF all end a line)."""
    return data.count(b"\n") + data.count(b"\r") + 1


def check(problems, path, max_line):
    for p in problems:
        assert p.path == display(path) and p.message, p
        assert p.line is None or (isinstance(p.line, int) and 1 <= p.line <= max_line), (p, max_line)


# Markdown and front-matter pieces: hypothesis mixes them with arbitrary characters.
MD = ["\n", "\n\n", " ", "    ", "\t", "---\n", "+++\n", "# ", "## ", "### Verdict: ", "- ", "* ", "1. ", "> ",
      "> [!NOTE]\n> ", "Probability", ":", "_Probability: ", "**Probability:** ", "(", ")", "_", "*", "**", "%",
      "70%", "50/50", "0.7", "-5", "150", "[^a]", "[^a]: ", "[x](", "](https://e.example/a)", "^[", "[", "]",
      "{#id}", "| a |\n|---|\n", "```\n", "<script>", "\\", "✅", "❌", "⚠️", "TBD", "**Prediction:** ", "title: ",
      "date: ", "2030-01-02", "tags:", "  - ", "draft: true", "&a ", "*a", "{", "}", "'", '"', "=", "\r\n", "\r",
      "\ufeff", "\x00", "é", "🙂", '{{< ref "/blog/f" >}}', "claim words"]
markdownish = st.lists(st.one_of(st.sampled_from(MD), st.text(max_size=4)), max_size=60).map("".join)
post_bytes = st.one_of(
    st.binary(max_size=400),
    markdownish.map(str.encode),
    st.text(max_size=300).map(lambda s: s.encode("utf-8", "surrogatepass")),
    st.tuples(st.sampled_from(["---\n", "+++\n", "\ufeff---\n"]), markdownish).map(lambda t: "".join(t).encode()),
)


@FUZZ
@given(data=post_bytes, bare=st.booleans())
@example(data=b"Power grows 2^[10] times.\n\n_Probability: 60%_\n", bare=False)  # each @example: a crash found
@example(data=b"Probability:" + b" " * 300 + b"(x", bare=True)  # by fuzzing (or a hang), fixed, kept here
def test_post_reader_and_extractor(work, data, bare):
    count("post_parser")
    path = work / "posts" / "blog" / "x" / "index.md"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    report = Report()
    post = read_post(path, "blog/x/index.md", report)
    if post is not None:
        extraction, _ = extract("x", post.shown, post.body, post.body_line, report, bare=bare)
        assert all(p.id.startswith("x/") and 0 <= p.stated_percent <= 100 for p in extraction.predictions)
    check(report.errors, path, lines_in(data))


KEYS = ["title", "date", "tags", "authors", "series", "draft", "slug", "url", "resolves_by", "forecasts", "other"]
scalar = st.one_of(st.sampled_from(["x", "2030-01-02", "true", "5", "1.5", "~", "'q'", "[]", "{}", "2030-13-45",
                                    "*a", "&a v", "!!binary aGk=", "0x1F", "12:30:00", ".nan", "!!int x"]),
                   st.text(alphabet="ab :-[]{},'\"&*!#", max_size=8))
value = st.recursive(scalar, lambda inner: st.one_of(
    st.lists(inner, max_size=3).map(lambda xs: "[" + ", ".join(xs) + "]"),
    st.lists(st.tuples(st.sampled_from(KEYS + ["name", "link", "image"]), inner), max_size=3).map(
        lambda kv: "{" + ", ".join(f"{k}: {v}" for k, v in kv) + "}")), max_leaves=6)
yaml_front = st.lists(st.tuples(st.sampled_from(KEYS), value), max_size=6).map(
    lambda kv: "---\n" + "\n".join(f"{k}: {v}" for k, v in kv) + "\n---\n")
toml_front = st.lists(st.tuples(st.sampled_from(KEYS), st.sampled_from(
    ['"x"', "2030-01-02", "true", "5", "[1, 2]", '["a"]', "{ name = 'a' }", "1979-05-27T07:32:00Z", "07:32:00",
     "[[1]]", "{}", '"""x"""', "nan"])), max_size=5).map(lambda kv: "+++\n" + "\n".join(f"{k} = {v}" for k, v in kv)
                                                        + "\n+++\n")
FORECAST = "---\ntitle: F 2030\ndate: 2030-01-01\n---\n## Grid\n\nBrownouts hit.\n\n_Probability: 70%_\n\n" \
           "## LR\n\n- Ads arrive (_Probability: 60%_)\n"


def build_site(work, name, posts):
    """The whole build (rows written into a database) of a site of these posts: the problems if it was refused."""
    content = write_site(work / name, posts)
    try:
        with database.Writer(work / name / "data.db") as writer:
            rows = pipeline.Rows(writer)
            rows.finish(pipeline.collect([content], None, drafts=True, on_post=rows.post))
            writer.finish()
        return []
    except InputError as e:
        return e.problems


@FUZZ
@given(front=st.one_of(yaml_front, toml_front), body=markdownish)
@example(front="+++\ntags = 2030-01-02\n+++\n", body="")
@example(front="---\ntitle: 2030-13-45\n---\n", body="")
@example(front="---\nauthors: 5\n---\n", body="")
def test_front_matter_through_the_whole_pipeline(work, front, body):
    count("front_matter")
    text = front + "## S\n\nClaim.\n\n_Probability: 60%_\n" + body
    for p in build_site(work, "front", {"blog/f/index.md": FORECAST, "blog/y/index.md": text}):
        assert p.path.endswith(("blog/y/index.md", "blog/f/index.md")) and p.message, p
        assert p.line is None or 1 <= p.line <= lines_in(text.encode()), p


@FUZZ
@given(text=st.one_of(markdownish, st.text()), bare=st.booleans())
def test_marker_grammar(text, bare):
    count("marker_grammar")
    markers = find_markers(text, bare=bare)
    for m in markers:
        assert (m.percent is None) != (m.error is None)
        assert m.percent is None or 0 <= m.percent <= 100
        assert 0 <= m.start < m.end <= len(text)
        assert "Probability" in text[m.start:m.end] or (bare and "%" in text[m.start:m.end])
    assert all(a.end <= b.start for a, b in zip(markers, markers[1:], strict=False))


@FUZZ
@given(percent=st.decimals(min_value=0, max_value=100, places=2), form=st.sampled_from(
    ["_Probability: {}%_", "**Probability:** {}%", "(_Probability: {} %_)", "Probability: {}%"]))
def test_marker_values_read_back_exactly(percent, form):
    count("marker_grammar")
    (m,) = find_markers("Claim.\n" + form.format(percent))
    assert m.error is None and m.percent == percent
    assert read_value(f"{percent / 100}") == (percent, None)  # the decimal form, 0.35 for 35%


YAML = ["resolutions:", "\n", "  ", "    ", "- ", "? ", ": ", ":", "[", "]", "{", "}", ",", "&a ", "*a", "!!str ",
        "!!map ", "!!seq ", "!!binary ", "!!int ", "outcome: ", "value: ", "resolved_on: ", "verdict: ", "note: ",
        "judged_by: ", "evidence: ", "condition: ", "url: ", "title: ", "f/grid/1", "f/lr/1", "true", "false",
        "partial", "0.5", "2", "~", "null", "2031-01-01", "maintainer", "https://e.example", "<<: ", "---", "...",
        "#", "'", '"', "\t", "|", ">", "\ufeff", "é"]
yamlish = st.lists(st.one_of(st.sampled_from(YAML), st.text(max_size=3)), max_size=50).map("".join)


@FUZZ
@given(data=st.one_of(yamlish.map(str.encode), st.binary(max_size=300),
                      st.text(max_size=200).map(lambda s: s.encode("utf-8", "surrogatepass"))))
@example(data=b"? resolutions:")
@example(data=b"resolutions:\n  f/lr/1:\n    outcome: partial\n    value: [1]\n")
def test_resolution_file_reader(work, data):
    count("resolution_reader")
    path = work / "resolutions" / "f.yml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    report = Report()
    found, conditions = FileReader(path, {"f/grid/1": None, "f/lr/1": None}, report).read()
    assert set(found) <= {"f/grid/1", "f/lr/1"} and set(conditions) <= {"f/grid/1", "f/lr/1"}
    check(report.errors, path, lines_in(data))


ITEMS = ["- **", "Brownouts hit", "Ads arrive", " (70%)", " (60%)", " (50/50)", ":**", "**:", " _Correct_ ✅", " ❌",
         " ⚠️", "TBD", "\\\n  ", "\n", "\n\n", "## Grid", "## LR", "### Verdict: ", "**Prediction:** ",
         "**Probability:** 70%", "  - ", "> ", "[e](https://e.example)", "(", ")", "%", "^[", "[^n]", "#"]


@FUZZ
@given(body=st.lists(st.one_of(st.sampled_from(ITEMS), st.text(max_size=3)), max_size=40).map("".join))
@example(body="- #")
@example(body="^[e](https://e.example)")
def test_review_reader(work, body):
    count("review_reader")
    review = "---\ntitle: R\ndate: 2030-12-01\n---\n[f]({{< ref \"/blog/f\" >}})\n\n- **Ads arrive (60%):** ✅\n\n" + body
    for p in build_site(work, "review", {"blog/f/index.md": FORECAST, "blog/r/index.md": review}):
        assert p.path.endswith(("blog/r/index.md", "blog/f/index.md")) and p.message, p
        assert p.line is None or 1 <= p.line <= lines_in(review.encode()), p


STYLED = ["- ", "  - ", "1. ", "> ", "\n", "\n\n", "Statement", " one", ": ", " – ", " - ", " ⇒ ", "(", ")", "**", "~~",
          "70%", ">99%", "5-10%", "150%", "40%", " (did not happen)", " (happened)", "Yup", "Nope", "✅", "<ol>",
          "<li>", "</li>", "</ol>", "<ul>", "</ul>", '<span style="text-decoration: line-through;">', "</span>",
          "<del>", "</del>", "| Statement | Probability |\n|---|---|\n| ", " | ", " |\n", "## Prediction #1: a, 70%\n",
          "**Verdict:** True.\n", "By 1 July 2021,\n\n", "On 31 February 2021,\n\n", "# ", "[^n]", "é", "\t"]
styled_text = st.lists(st.one_of(st.sampled_from(STYLED), st.text(max_size=3)), max_size=50).map("".join)
STYLED_FORECAST = "---\ntitle: F 2030\ndate: 2030-01-01\n---\n- Statement one: 70%\n- Statement two (40%)\n"


@FUZZ
@given(forecast=styled_text, review=styled_text)
@example(forecast="<ol><li>a: 5%<ul><li>b: 6%</li></ul></li></ol>", review="- Statement one: 70% ✅")
@example(forecast="On 31 February 2021,\n\n- a: 5%", review="## Prediction #9: a, 70%\n**Verdict:** True.\n")
def test_styled_posts_through_the_whole_pipeline(work, forecast, review):
    """Statements and graded items (statements.py, grading.py) with any text: only the project's own problems."""
    count("styled_reader")
    texts = {"blog/f/index.md": STYLED_FORECAST + forecast,
             "blog/r/index.md": '---\ntitle: R\n---\n[f]({{< ref "/blog/f" >}})\n\n' + review}
    content = write_site(work / "styled", texts)
    style = dict(forecasts=["blog/f/*"], reviews=["blog/r/*"],
                 marks={"Yup": "right", "Nope": "wrong", "✅": "happened", "(did not happen)": "did-not-happen",
                        "True": "happened", "strikethrough": "did-not-happen"})
    try:
        corpus = pipeline.collect([content], None, styles={content: style})
        assert all(0 <= p.stated_percent <= 100 for p in corpus.predictions)
    except InputError as e:
        for p in e.problems:
            path = next(k for k in texts if p.path.endswith(k))
            assert p.message and (p.line is None or 1 <= p.line <= lines_in(texts[path].encode())), p
