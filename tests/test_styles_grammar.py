"""The list/table grammar and the grading marks on posts written by the tests; bad styles and bad grades."""

import datetime as dt

import pytest

from conftest import write_site
from predictions import build
from predictions.errors import InputError
from predictions.styles import Style

FORMS = """---
title: Predictions for 2030
date: 2030-01-01
---
Intro with a 95% chance in prose.

## Forms

1. Colon form: 70%
2. Percent inside a statement, down by at least 30%: 65%

- Paren form (60%)
- En dash form – 55%
- Hyphen form - 45%
- Arrow form ⇒ 35%
- Bold form **25%**
- Greater form: >99%
- Not a forecast: down by at least 30% this year
- Not one either, a 5-10% rise
- Topic bullet
  - Child statement: 20%
    - a note under it that would be 90%
- Parent statement: 80%
  - Nested statement: 40%
  - If I let myself score 100% this would definitely be 100%.

| Statement | Chance | Why |
|---|---|---|
| Table statement | 15% | a reason |

<ol start="3">
  <li>
    <span style="text-decoration: line-through;">HTML struck: 64%</span>
  </li>
  <li>
    HTML item: 5%<ul><li>its note, at least 90% of them</li></ul>
  </li>
</ol>

> - Quoted statement: 50%

On 1 March 2031,

- Dated statement ⇒ 50%
"""


def collect(root, style, **kw):
    return build.collect([root], None, styles={root: style}, build_date=dt.date(2032, 1, 1), **kw)


def test_every_statement_form(tmp_path):
    root = write_site(tmp_path, {"posts/p.md": FORMS})
    notes = {}
    corpus = collect(root, dict(forecasts=["posts/*.md"]), on_post=lambda e, _: notes.update(
        {p.text: p.commentary_markdown for p in e.extraction.predictions}))
    got = [(p.text, p.probability_text, int(p.stated_percent) if p.stated_percent == int(p.stated_percent) else
            p.stated_percent) for p in corpus.predictions]
    assert got == [
        ("Colon form", "70%", 70), ("Percent inside a statement, down by at least 30%", "65%", 65),
        ("Paren form", "60%", 60), ("En dash form", "55%", 55), ("Hyphen form", "45%", 45), ("Arrow form", "35%", 35),
        ("Bold form", "25%", 25), ("Greater form", ">99%", 99), ("Topic bullet: Child statement", "20%", 20),
        ("Parent statement", "80%", 80), ("Nested statement", "40%", 40), ("Table statement", "15%", 15),
        ("HTML struck", "64%", 64), ("HTML item", "5%", 5), ("Dated statement", "50%", 50),
    ]
    by_text = {p.text: p for p in corpus.predictions}
    assert by_text["Nested statement"].parent_id == by_text["Parent statement"].id
    assert notes["Parent statement"] == "If I let myself score 100% this would definitely be 100%."
    assert notes["Topic bullet: Child statement"] == "a note under it that would be 90%"
    assert notes["HTML item"] == "its note, at least 90% of them"
    assert notes["Table statement"] == "a reason"
    assert by_text["Dated statement"].resolves_by == dt.date(2031, 3, 1)
    assert {p.resolves_by for p in corpus.predictions if p.text != "Dated statement"} == {None}
    lines = FORMS.split("\n")
    for p in corpus.predictions:
        assert p.text.split(": ")[-1] in lines[p.line - 1], p.text


def test_a_post_not_named_by_the_globs_is_read_as_today(tmp_path):
    root = write_site(tmp_path, {"posts/p.md": FORMS})
    assert collect(root, dict(forecasts=["posts/other.md"])).predictions == []
    corpus = collect(root, dict(forecasts=["posts/*.md"], exclude=["posts/p.md"]))
    assert corpus.entries == [] and [k for k, _ in corpus.report.warnings] == ["excluded"]


FORECAST = """---
title: Predictions for 2030
date: 2030-01-01
---
- Struck one: 70%
- Bold one: 60%
- Plain one: 10%
- Worded one: 30%
- Nobody grades me: 50%
"""
REVIEW = """---
title: 2030 reviewed
date: 2031-01-05
---
How did [my predictions]({{< ref "posts/f.md" >}}) do?

> - Struck one: 70%

- ~~Struck one: 70%~~
- **Bold one: 60%**
- Plain one: 10%
- Worded one: 30%
  - ✅ it did
"""
MARKS = {"strikethrough": "did-not-happen", "bold": "happened", "plain": "right", "✅": "happened"}


def test_markups_words_and_plain(tmp_path):
    root = write_site(tmp_path, {"posts/f.md": FORECAST, "posts/r.md": REVIEW})
    corpus = collect(root, dict(forecasts=["posts/f.md"], reviews=["posts/r.md"], marks=MARKS))
    got = {corpus_text(corpus, pid): (r.outcome, r.verdict) for pid, r in corpus.resolutions.items()}
    assert got == {"Struck one": ("false", "strikethrough"), "Bold one": ("true", "bold"),
                   "Plain one": ("false", "plain"),  # right at 10%: it did not happen
                   "Worded one": ("true", "✅")}
    warned = [p for kind, p in corpus.report.warnings if kind == "ungraded"]
    assert len(warned) == 1 and "(50%) is graded by no verdict" in warned[0].message and warned[0].line == 9


def corpus_text(corpus, pid):
    return next(p.text for p in corpus.predictions if p.id == pid)


def test_a_review_without_a_link_grades_the_post_whose_statements_it_repeats(tmp_path):
    other = FORECAST.replace("2030", "2029").replace("70%", "75%").replace("60%", "65%").replace("10%", "15%")
    review = REVIEW.replace('[my predictions]({{< ref "posts/f.md" >}})', "my predictions")
    root = write_site(tmp_path, {"posts/e.md": other, "posts/f.md": FORECAST, "posts/r.md": review})
    corpus = collect(root, dict(forecasts=["posts/[ef].md"], reviews=["posts/r.md"], marks=MARKS))
    assert next(e for e in corpus.entries if e.id == "r").reviews_post_id == "f"


def errors(tmp_path, review, marks=MARKS, forecast=FORECAST):
    root = write_site(tmp_path, {"posts/f.md": forecast, "posts/r.md": review})
    with pytest.raises(InputError) as e:
        collect(root, dict(forecasts=["posts/f.md"], reviews=["posts/r.md"], marks=marks))
    return [(p.path.rsplit("/", 1)[-1], p.line, p.message) for p in e.value.problems]


def test_a_mark_not_in_marks_is_an_error_at_its_line(tmp_path):
    marks = {k: v for k, v in MARKS.items() if k != "plain"}
    (problem,) = errors(tmp_path, REVIEW, marks)
    assert problem[:2] == ("r.md", 11)
    assert problem[2].startswith("graded item 'Plain one' (10%) carries none of this source's marks (")
    assert "add the mark used here to `marks` in predictions.toml" in problem[2]


def test_a_graded_item_that_matches_no_forecast(tmp_path):
    (problem,) = errors(tmp_path, REVIEW + "- Something else entirely: 30% ✅\n")
    assert problem[:2] == ("r.md", 14) and "matches no prediction of the graded post" in problem[2]


def test_two_graded_items_that_match_one_forecast(tmp_path):
    (problem,) = errors(tmp_path, REVIEW + "- Worded one: 30% ✅\n")
    assert problem == ("r.md", 14, "verdict grades f/intro/4, already graded at line 12")


def test_a_review_that_grades_nothing(tmp_path):
    review = "---\ntitle: r\n---\n- Unrelated words here: 20% ✅\n"
    (problem,) = errors(tmp_path, review)
    assert problem[0] == "r.md" and "this review grades no forecast post" in problem[2]


@pytest.mark.parametrize("raw, message", [
    (dict(marks={"Yup": "correct"}), "marks: 'Yup' = 'correct' is not a meaning: use one of happened, did-not-happen, "
                                     "right, wrong, void, ambiguous"),
    (dict(marks=["Yup"]), "marks must be a table of mark = meaning"),
    (dict(reviews=["posts/r.md"]), "reviews are named but no marks"),
    (dict(forecasts="posts/*.md", colour="red"), "unknown style key 'colour' (known: forecasts, reviews, marks, exclude)"),
    (dict(forecasts=[3]), "forecasts must be a list of globs of post paths"),
])
def test_bad_styles(raw, message):
    with pytest.raises(InputError) as e:
        Style.from_config(raw, "predictions.toml: source 'blog'")
    assert [str(p) for p in e.value.problems] == [f"predictions.toml: source 'blog': {message}"] or any(
        str(p).startswith(f"predictions.toml: source 'blog': {message}") for p in e.value.problems)


def test_prediction_number_headings(tmp_path):
    forecast = "---\ntitle: f\ndate: 2021-03-16\n---\nBy 1 July 2021,\n\n1. one thing ⇒ 95%\n2. other thing ⇒ 95%\n"
    review = ("---\ntitle: r\n---\n[post]({{ '/posts/f/' | url }})\n\n## Prediction #2: Other, 95%\n\n"
              "**Verdict:** False.\n\n## Prediction #1: One, 95%\n\n**Verdict:** True.\n")
    root = write_site(tmp_path, {"posts/f.md": forecast, "posts/r.md": review})
    corpus = collect(root, dict(forecasts=["posts/f.md"], reviews=["posts/r.md"],
                                marks={"True": "happened", "False": "did-not-happen"}))
    assert {pid: r.outcome for pid, r in corpus.resolutions.items()} == {"f/intro/1": "true", "f/intro/2": "false"}
    bad = review.replace("#2: Other, 95%", "#3: Other, 95%")
    (problem,) = errors(tmp_path / "b", bad, {"True": "happened", "False": "did-not-happen"}, forecast)
    assert problem == ("r.md", 6, "Prediction #3 (95%) is not the graded post's forecast #3 (it has 2): fix the number "
                                  "or the probability")
