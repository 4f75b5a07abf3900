"""Forecast styles on the four real blogs of ../shared/corpus: the exact forecasts, grades and outcomes that
their SOURCE.md files state, each blog a source of one dataset folder whose predictions.toml (written here) names
its forecast and review posts and what its marks mean, built by the real CLI."""

import datetime as dt
import os
import sqlite3
from collections import Counter

import pytest
from click.testing import CliRunner

from conftest import SHARED
from predictions import build, database
from predictions.cli import cli

CORPUS = SHARED / "corpus"
BUILD_DATE = dt.date(2026, 12, 1)
# Each source as its test dataset's predictions.toml configures it (root: the content folder; site: the site root).
SOURCES = {
    "urth": dict(
        root=CORPUS / "blog.urth.org" / "content", site="blog.urth.org",
        style=dict(forecasts=["posts/2020-05-02-predictions-for-2020.md"],
                   reviews=["posts/2021-01-29-2020-predictions-reviewed.md"],
                   marks={"Yup": "right", "Nope": "wrong", "WTF": "ambiguous"})),
    "seinma": dict(
        root=CORPUS / "seinmastudios.com" / "content", site="seinmastudios.com",
        style=dict(forecasts=["posts/2024-predictions.md", "posts/predictions-2025.md"],
                   reviews=["posts/predictions-2024-followup.md"],
                   marks={"(did not happen)": "did-not-happen", "(happened)": "happened",
                          "(happened, but disqualified)": "void"})),
    "czinn": dict(root=CORPUS / "czinn-web" / "content", site="czinn-web",
                  style=dict(forecasts=["blog/predictions-2021.md"])),
    "erwald": dict(
        root=CORPUS / "erwald-blog", site="erwald-blog", content=".", base_url="https://www.erichgrunewald.com/",
        style=dict(forecasts=["posts/my-path-towards-veganism.md", "posts/the-astra-zeneca-vaccine-will-save-lives.md",
                              "posts/the-devastating-power-and-heartbreaking-pain-of-truly-changing-minds.md",
                              "posts/predictions-for-2022.md"],
                   reviews=["posts/scoring-my-*-predictions.md"],
                   exclude=["posts/predictions-for-2022.md", "README.md", "SOURCE.md"],
                   marks={"✓ True": "happened", "✕ False": "did-not-happen", "True": "happened",
                          "False": "did-not-happen"})),
}


def toml_value(value):
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{toml_value(k)} = {toml_value(v)}" for k, v in value.items()) + " }"
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'


def source_table(name, s):
    lines = ["[[sources]]", f'name = "{name}"', f'path = "{CORPUS / s["site"]}"']
    lines += [f'content = "{s["content"]}"'] if "content" in s else []
    lines += [f'base_url = "{s["base_url"]}"'] if "base_url" in s else []
    lines += [f"{k} = {toml_value(v)}" for k, v in s["style"].items()]
    return "\n".join(lines) + "\n"


def dataset(folder, names=tuple(SOURCES), extra=""):
    """A dataset folder with these corpus sources in its predictions.toml."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "predictions.toml").write_text('title = "Published forecasts"\n' + extra + "\n".join(
        source_table(n, SOURCES[n]) for n in names))
    return folder


def run(folder, *args):
    """`predictions ARGS` in the dataset folder (the CLI finds its predictions.toml)."""
    old = os.getcwd()
    os.chdir(folder)
    try:
        return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)
    finally:
        os.chdir(old)


def build_styled(db_path, root, style, base_url=None, resolutions=None, build_date=BUILD_DATE, claims_dir=None):
    """Build a database from one content root with its style through the library (build.collect(styles=...))."""
    with database.Writer(db_path) as writer:
        rows = build.Rows(writer)
        corpus = build.collect([root], resolutions, base_url=base_url, styles={root: style}, on_post=rows.post,
                               claims_dir=claims_dir, build_date=build_date)
        rows.finish(corpus)
        writer.finish()
    return corpus


@pytest.fixture(scope="module")
def db(tmp_path_factory):
    folder = dataset(tmp_path_factory.mktemp("forecasts") / "dataset")
    result = run(folder, "build", "--quiet")
    assert result.exit_code == 0, result.output + result.stderr
    conn = sqlite3.connect(folder / "data.db")
    yield conn
    conn.close()


@pytest.fixture(scope="module")
def dbs(db):
    """The same database per source name, as the tests below ask for it."""
    return {name: (db, name) for name in SOURCES}


def warnings(conn, kind, source=None):
    return [(path, line, message) for path, line, message in conn.execute(
        "select path, line, message from build_warnings where kind = ? order by id", [kind])]


def outcomes(conn, post):
    return Counter(o for (o,) in conn.execute("select outcome from prediction_status where post_id = ?", [post]))


def states(conn, post):
    return Counter(s for (s,) in conn.execute("select state from prediction_status where post_id = ?", [post]))


def test_only_the_forecast_posts_state_forecasts(dbs):
    expected = {
        "urth": [("2020-05-02-predictions-for-2020", 33)],
        "seinma": [("2024-predictions", 31), ("predictions-2025", 57)],
        "czinn": [("predictions-2021", 36)],
        "erwald": [("my-path-towards-veganism", 6), ("the-astra-zeneca-vaccine-will-save-lives", 4),
                   ("the-devastating-power-and-heartbreaking-pain-of-truly-changing-minds", 2)],
    }
    for name, (conn, _) in dbs.items():
        got = conn.execute("select id, prediction_count from posts where prediction_count > 0 and source_id = ? "
                           "order by id", [name]).fetchall()
        assert got == expected[name], name
        assert conn.execute("select count(*) from posts where source_id = ?", [name]).fetchone()[0] > 3
    assert conn.execute("select count(*) from predictions").fetchone() == (33 + 31 + 57 + 36 + 6 + 4 + 2,)


def test_urth_review_marks_mean_right_and_wrong(dbs):
    conn, _ = dbs["urth"]
    post = "2020-05-02-predictions-for-2020"
    assert outcomes(conn, post) == {"false": 14, "true": 13, "ambiguous": 1, "open": 5}
    verdicts = Counter(v for (v,) in conn.execute("select verdict from resolutions where review_post_id = ?",
                                                    ["2021-01-29-2020-predictions-reviewed"]))
    assert verdicts == {"Yup": 16, "Nope": 11, "WTF": 1}
    # 28 for 2020 (Politics and Economy 7, Coronavirus 11, Personal 10), 5 long-term ones evaluated at the end of 2025
    sections = conn.execute("select s.title, count(*) from predictions p join sections s on s.id = p.section_id "
                            "where p.post_id = ? group by s.title order by min(p.position)", [post]).fetchall()
    assert sections == [("Politics and Economy", 7), ("Coronavirus", 11), ("Personal", 10), ("Longer Term Predictions", 5)]
    long_term = conn.execute("select distinct p.resolves_by, s.state from predictions p join prediction_status s "
                             "on s.prediction_id = p.id where p.section_id like '%longer-term%'").fetchall()
    assert long_term == [("2025-12-31", "overdue")]
    # "A vaccine is generally available by end of 2020: 10%" / **Yup** (right): the event did not happen
    row = conn.execute("select p.stated_percent, s.outcome, s.verdict from prediction_status s join predictions p "
                       "on p.id = s.prediction_id where p.text like 'A vaccine is generally available%'").fetchone()
    assert row == (10.0, "false", "Yup")
    # "Nope with a side of WTF" is Nope; "Nope. I was tempted to give myself a "Yup"" is Nope
    for start in ("Fatality rate in the US", "Minnesota lifts stay at home"):
        assert conn.execute("select s.verdict, s.outcome from prediction_status s where s.text like ?",
                            [start + "%"]).fetchone() == ("Nope", "false")
    # The verdict stated inline in the item's text ("…: 60% _ … _ **Yup. …**")
    assert conn.execute("select s.verdict, s.outcome from prediction_status s where s.text like "
                        "'I have attended at least one non-Perl%'").fetchone() == ("Yup", "true")
    # Percentages inside statements and prose are not probabilities
    gdp = conn.execute("select text, stated_percent from predictions where text like 'US GDP%'").fetchone()
    assert gdp == ("US GDP for 2020 is down by at least 30% year over year compared to 2019", 80.0)
    # Notes under an item are its commentary
    vaccine = conn.execute("select commentary_markdown from predictions where text like 'A vaccine%'").fetchone()[0]
    assert "at least 90% of the population" in vaccine
    warned = [m for _, _, m in warnings(conn, "ungraded") if "2020-05-02" in m]
    assert len(warned) == 5 and all("longer-term-predictions" in m and "it stays open" in m for m in warned)


def test_urth_html_items_keep_their_lines(dbs):
    conn, _ = dbs["urth"]
    path = CORPUS / "blog.urth.org" / "content" / "posts" / "2020-05-02-predictions-for-2020.md"
    lines = path.read_text().split("\n")
    for text, line in conn.execute("select text, line from predictions where post_id = ?", [path.stem]):
        assert text[:25] in lines[line - 1], (text, line)


def test_seinmastudios_suffixes_state_the_outcome(dbs):
    conn, _ = dbs["seinma"]
    assert outcomes(conn, "2024-predictions") == {"true": 6, "false": 24, "void": 1}
    assert conn.execute("select reviews_post_id from posts where id = 'predictions-2024-followup'").fetchone() == (
        "2024-predictions",)
    assert states(conn, "predictions-2025") == {"overdue": 57}
    # A parent bullet without a probability is the topic of its children
    assert conn.execute("select text from predictions where id = '2024-predictions/us/1'").fetchone() == (
        "Congestion pricing: Begins collection by EOY",)
    disqualified = conn.execute("select p.stated_percent, r.outcome from resolutions r join predictions p "
                                "on p.id = r.prediction_id where r.verdict = '(happened, but disqualified)'").fetchall()
    assert disqualified == [(80.0, "void")]


def test_czinn_open_and_nested(dbs):
    conn, _ = dbs["czinn"]
    assert states(conn, "predictions-2021") == {"overdue": 36}
    children = conn.execute("select c.text, c.stated_percent, p.text from predictions c join predictions p "
                            "on p.id = c.parent_id where c.post_id = 'predictions-2021' order by c.position").fetchall()
    assert [c[0] for c in children] == ["...by the end of May", "...by the end of June", "...by the end of July",
                                        "...by the end of the year", "...and a P3 rating", "...in less than 25 minutes",
                                        "...better than 0.20", "...better than 0.15"]
    assert children[0][2] == "I get a vaccine by the end of April"
    # the footnote of "…in the US[^strain]: 85%" is its reference
    refs = conn.execute("select r.key from prediction_references pr join \"references\" r on r.id = pr.reference_id "
                        "where pr.prediction_id = 'predictions-2021/covid-19/1'").fetchall()
    assert refs == [("strain",)]


def test_erwald_outcomes_and_dates(dbs):
    conn, _ = dbs["erwald"]

    def column(post, sql):
        return [r[0] for r in conn.execute(f"select {sql} from prediction_status where post_id = ? order by "
                                           "prediction_id", [post])]

    assert column("my-path-towards-veganism", "outcome") == ["true", "true", "false", "true", "true", "true"]
    assert column("the-astra-zeneca-vaccine-will-save-lives", "outcome") == ["true", "true", "false", "false"]
    assert column("the-astra-zeneca-vaccine-will-save-lives", "resolves_by") == ["2021-07-01"] * 4
    assert column("the-devastating-power-and-heartbreaking-pain-of-truly-changing-minds", "state") == ["open"] * 2
    assert column("the-devastating-power-and-heartbreaking-pain-of-truly-changing-minds", "resolves_by") == [
        "2050-01-01"] * 2
    assert column("my-path-towards-veganism", "resolves_by") == ["2022-02-01"] * 6
    reviews = conn.execute("select id, reviews_post_id from posts where kind = 'review' and source_id = 'erwald' "
                           "order by id").fetchall()
    assert reviews == [("scoring-my-astra-zeneca-predictions", "the-astra-zeneca-vaccine-will-save-lives"),
                       ("scoring-my-veganism-predictions", "my-path-towards-veganism")]
    excluded = sorted(path.rsplit("/", 1)[-1] for path, _, _ in warnings(conn, "excluded"))
    assert excluded == ["README.md", "SOURCE.md", "predictions-for-2022.md"]
    assert conn.execute("select count(*) from posts where id = 'predictions-for-2022'").fetchone() == (0,)


def test_a_resolution_file_overrides_a_contradicted_verdict(tmp_path):
    # "I have had coronavirus: 40%" / **Nope, I _haven't_ had it?** ... "I counted this as a miss": by its mark
    # (wrong at 40%) the event happened; a maintainer records that it did not, and the build reports the override.
    folder = tmp_path / "resolutions"
    folder.mkdir()
    (folder / "2020-05-02-predictions-for-2020.yml").write_text(
        "resolutions:\n  2020-05-02-predictions-for-2020/coronavirus/8:\n    outcome: false\n"
        "    note: Both tests were negative; the author counted it as a miss.\n")
    s = SOURCES["urth"]
    corpus = build_styled(tmp_path / "data.db", s["root"], s["style"], resolutions=folder)
    (override,) = [p for kind, p in corpus.report.warnings if kind == "override"]
    assert override.line == 2 and "resolution file says false, overriding the review's true ('Nope'" in override.message
    conn = sqlite3.connect(tmp_path / "data.db")
    assert outcomes(conn, "2020-05-02-predictions-for-2020") == {"false": 15, "true": 12, "ambiguous": 1, "open": 5}


def test_bad_marks_in_predictions_toml_exit_1(tmp_path):
    folder = dataset(tmp_path / "d", ["czinn"])
    text = (folder / "predictions.toml").read_text() + 'reviews = ["blog/x.md"]\nmarks = { "Yup" = "correct" }\n'
    (folder / "predictions.toml").write_text(text)
    result = run(folder, "build", "--quiet")
    assert result.exit_code == 1 and not (folder / "data.db").exists()
    assert "error: predictions.toml: source 'czinn': marks: 'Yup' = 'correct' is not a meaning: use one of happened, " \
           "did-not-happen, right, wrong, void, ambiguous" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_bad_grade_leaves_the_database_as_it_was(tmp_path):
    from conftest import write_site

    site = tmp_path / "d" / "blog"
    forecast = "---\ntitle: Predictions for 2030\n---\n- Rain in May: 70%\n- Snow in July: 5%\n"
    review = "---\ntitle: 2030 reviewed\n---\n[f]({{< ref \"posts/f.md\" >}})\n\n- Rain in May: 70% **Yup**\n"
    write_site(site, {"posts/f.md": forecast, "posts/r.md": review})
    folder = tmp_path / "d"
    (folder / "predictions.toml").write_text('[[sources]]\nname = "b"\npath = "blog"\nforecasts = ["posts/f.md"]\n'
                                            'reviews = ["posts/r.md"]\nmarks = { "Yup" = "right" }\n')
    ok = run(folder, "build", "--quiet")
    assert ok.exit_code == 0, ok.output + ok.stderr
    assert "ungraded: 1" in ok.output  # "Snow in July" is graded by no item: a warning
    before = (folder / "data.db").read_bytes()
    (site / "content" / "posts" / "r.md").write_text(review + "- Snow in July: 5% **Maybe**\n")
    result = run(folder, "build", "--quiet")
    assert result.exit_code == 1 and (folder / "data.db").read_bytes() == before
    assert "error: blog/content/posts/r.md:7: graded item 'Snow in July' (5%) carries none of this source's marks ('Yup')" \
        in result.stderr


def test_a_dataset_with_claims_and_a_tracker(tmp_path):
    from test_claims import URTH_CLAIMS
    from test_trackers import FATEBOOK_HEADER, FATEBOOK_ROWS, write_csv

    folder = dataset(tmp_path / "d", ["urth"])
    (folder / "claims").mkdir()
    (folder / "claims" / "2021-01-29-2020-predictions-reviewed.yml").write_text(URTH_CLAIMS)
    write_csv(folder / "fatebook.csv", FATEBOOK_HEADER, FATEBOOK_ROWS)
    with open(folder / "predictions.toml", "a") as f:
        f.write('[[sources]]\nname = "fb"\nkind = "fatebook-csv"\npath = "fatebook.csv"\nlicense = "CC0 1.0"\n')
    result = run(folder, "build", "--quiet")
    assert result.exit_code == 0, result.output + result.stderr
    conn = sqlite3.connect(folder / "data.db")
    assert conn.execute("select bucket, n, hits, differs from claim_comparison where differs = 1").fetchall() == [
        ("60%", 6, 1.0, 1)]
    assert conn.execute("select source_id, count(*) from prediction_overview group by 1").fetchall() == [
        ("fb", len(FATEBOOK_ROWS)), ("urth", 33)]
    assert conn.execute("select title, license from sources where id = 'fb'").fetchone() == ("fb (Fatebook)", "CC0 1.0")
