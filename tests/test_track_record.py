"""The track record at / (datasette-dashboards) and what every page shows a reader, in-process.

The dashboard's queries run as the browser runs them (/data.json?sql=... with the page's filters); their
numbers are checked against the plain-Python computation of test_site.py. What the charts draw from those rows
is checked in a real browser by test_browser.py.
"""

import datetime
import importlib.util
import re
import sqlite3
import xml.etree.ElementTree as ET
from collections import Counter
from html.parser import HTMLParser

import pytest
import yaml
from test_site import QUERIES, calibration, fixture_items, resolved_on, scores, site, write_fixture

from conftest import build_db, write_site
from predictions import site_settings

METADATA = yaml.safe_load(site_settings.METADATA.read_text())
DASHBOARD = METADATA["plugins"]["datasette-dashboards"][METADATA["home_dashboard"]]
CHARTS = DASHBOARD["charts"]


@pytest.fixture(scope="module")
def fixture_db(tmp_path_factory):
    return write_fixture(tmp_path_factory.mktemp("track"))


async def chart_rows(ds, chart, **filters):
    """The rows a dashboard chart draws, fetched as its page fetches them."""
    response = await ds.client.get("/data.json", params={"sql": CHARTS[chart]["query"], "_shape": "array", **filters})
    assert response.status_code == 200, response.text
    return response.json()


def g3(x):
    """Three significant digits, as the headline cards show them."""
    return "–" if x is None else f"{x:.3g}"


async def test_home_is_the_track_record_with_its_filters(fixture_db):
    ds = await site(fixture_db)
    for path in ("/", "/?year=2020", "/?post=predictions-2099&fold=folded&bucket=10", "/-/dashboards/track-record"):
        page = await ds.client.get(path)
        assert page.status_code == 200, path
        assert "<title>Track record</title>" in page.text
        for chart in CHARTS:
            assert f'id="chart-{chart}"' in page.text, (path, chart)
        # the footer carries the data's license and source, as on every Datasette page
        assert METADATA["license_url"] in page.text and METADATA["source_url"] in page.text
    filters = (await ds.client.get("/")).text
    for value in ("predictions-2020", "predictions-2099", "2020", "2099", "alpha", "beta", "shared", "Ann", "Bob"):
        assert f'<option value="{value}"' in filters, value
    assert (await ds.client.get("/data")).status_code == 200  # the list of tables and queries stays one click away


@pytest.mark.parametrize("filters, keep", [
    ({}, lambda i: True),
    ({"year": "2020"}, lambda i: i["year"] == 2020),
    ({"post": "predictions-2099"}, lambda i: i["post"] == "predictions-2099"),
    ({"tag": "beta"}, lambda i: "beta" in i["tags"]),
    ({"author": "Bob"}, lambda i: "Bob" in i["authors"]),
    ({"tag": "no-such-tag"}, lambda i: False),
])
async def test_headline_figures_equal_the_python_computation(fixture_db, filters, keep):
    ds = await site(fixture_db)
    items = [i for i in fixture_items() if keep(i)]
    expected = scores(items)
    today = datetime.datetime.now(datetime.UTC).date()
    overdue = sum(i["outcome"] == "open" and datetime.date(i["year"], 12, 31) < today for i in items)
    [row] = await chart_rows(ds, "brier", **filters)
    assert row["resolved"] == expected["n_resolved"]
    assert row["open"] == expected["n_open"] and row["overdue"] == overdue
    assert row["overdue_shown"] == (f'<span style="color:#d9480f">{overdue}</span>' if overdue else overdue)
    assert row["void_ambiguous"] == expected["n_void"] + expected["n_ambiguous"]
    assert row["certain_misses"] == expected["certain_misses"]
    assert row["brier"] == g3(expected["brier_0_1"])
    skill, bits = expected["brier_skill_vs_50"], expected["log_score_bits_clipped"]
    assert row["skill"] == ("–" if skill is None else f"{skill:+.3g}")
    assert row["log_score"] == ("–" if bits is None else f"{bits:+.3g}")
    # every headline card reads its own field of that one row (the git-history cards have a query of their own,
    # tested in test_dataset.py)
    for name, chart in CHARTS.items():
        if chart.get("library") == "metric" and name not in ("published_late", "probability_changed"):
            assert chart["query"] == CHARTS["brier"]["query"] and chart["display"]["field"] in row


@pytest.mark.parametrize("fold", [False, True])
@pytest.mark.parametrize("width", [None, 10])
async def test_calibration_chart_rows_equal_the_python_computation(fixture_db, fold, width):
    ds = await site(fixture_db)
    params = {"fold": "folded"} if fold else {}
    if width:
        params["bucket"] = str(width)
    got = await chart_rows(ds, "calibration", **params)
    expected = sorted(calibration(fixture_items(), fold, width), key=lambda r: (r["mean_probability"], r["bucket_percent"]))
    assert [r["kind"] for r in got] == ["bucket"] * len(expected)
    for row, want in zip(got, expected, strict=True):
        for key in ("n", "hits", "frequency", "mean_probability", "wilson_lower", "wilson_upper"):
            assert row[key] == pytest.approx(want[key], rel=1e-12, abs=1e-12), (key, row, want)


async def test_calibration_with_nothing_resolved_says_when_they_resolve(fixture_db, bundled_db):
    ds = await site(fixture_db)
    assert await chart_rows(ds, "calibration", tag="no-such-tag") == [
        dict(kind="note", bucket=None, n=0, hits=None, frequency=None, mean_probability=None, wilson_lower=None,
             wilson_upper=None, message="nothing resolved yet")]
    db = sqlite3.connect(bundled_db)
    n_open, last = db.execute("select count(*), max(resolves_by) from predictions").fetchone()
    assert db.execute("select count(*) from resolutions where outcome != 'open'").fetchone() == (0,)
    [note] = await chart_rows(await site(bundled_db), "calibration")
    assert note["message"] == f"nothing resolved yet: {n_open} forecasts resolve by {last}"


async def test_scores_by_year_and_biggest_misses(fixture_db):
    ds = await site(fixture_db)
    by_year = await chart_rows(ds, "by_year")
    items = fixture_items()
    assert [r["year"] for r in by_year] == ["2020", "2099"]
    for row in by_year:
        want = scores([i for i in items if str(i["year"]) == row["year"]])
        assert row["brier"] == pytest.approx(want["brier_0_1"], rel=1e-12)
        assert row["n_resolved"] == want["n_resolved"]
    misses = await chart_rows(ds, "misses")
    wrong = [i for i in items if i["outcome"] in ("true", "false", "partial")
             and ((i["pct"] > 50 and i["o"] < 0.5) or (i["pct"] < 50 and i["o"] > 0.5))]
    wrong.sort(key=lambda i: (-abs(i["pct"] / 100 - i["o"]), i["post"], int(i["id"].rsplit("/", 1)[1])))
    assert len(misses) == min(10, len(wrong))
    for row, item in zip(misses, wrong, strict=False):
        slug, section, number = item["id"].split("/")
        assert row["forecast"] == (f'<a href="/data/predictions/{slug}~2F{section}~2F{number}">'
                                   f"Claim {number} of {slug} comes true</a>")
        assert row["stated"] == f"{item['pct']:g}%" and row["outcome"] == item["outcome"]
        assert row["evidence"] == f'<a href="https://evidence.example/{slug}/{number}">evidence.example</a>'
    assert await chart_rows(ds, "misses", tag="no-such-tag") == [
        dict(forecast="no forecast went the other way from its stated probability", stated="", outcome="",
             verdict="", evidence="")]


def load_plugin(name):
    spec = importlib.util.spec_from_file_location(name, site_settings.PLUGINS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_html_link_escapes_and_links_only_web_urls_and_site_paths():
    html_link = load_plugin("sql_links").html_link
    assert html_link("https://e.org/?a=1&b=2", "<b>x</b>") == '<a href="https://e.org/?a=1&amp;b=2">&lt;b&gt;x&lt;/b&gt;</a>'
    assert html_link("/data/predictions/a~2Fb", 'say "hi"') == '<a href="/data/predictions/a~2Fb">say &#34;hi&#34;</a>'
    for hostile in ("javascript:alert(1)", "JAVASCRIPT:alert(1)", "data:text/html,x", "//evil.example/", None, 3):
        assert html_link(hostile, "<img src=x onerror=alert(1)>") == "&lt;img src=x onerror=alert(1)&gt;", hostile


def test_readable_numbers():
    readable = load_plugin("numbers").readable
    assert [readable(x) for x in (0.13249999999999995, 2.7755575615628914e-17, 0.216875, 99.5, 0.995, 15.0, 0.25,
                                  1234.56789, -0.0521, 1.9570034428794558, -0.000625)] == [
        "0.132", "2.78e-17", "0.217", "99.5", "0.995", "15", "0.25", "1235", "-0.0521", "1.96", "-6.25e-04"]


LONG_DECIMAL = re.compile(r"\d\.\d{5,}")


def cell_texts(html):
    """The text of every table cell of a page (what a reader sees of its numbers)."""
    return [re.sub(r"<[^>]+>", "", c) for c in re.findall(r"<td[^>]*>(.*?)</td>", html, re.S)]


async def test_html_numbers_are_rounded_while_json_and_csv_stay_exact(fixture_db):
    ds = await site(fixture_db)
    expected = scores(fixture_items())
    for query in ("scores", "murphy", "calibration", "scores_by"):
        cells = cell_texts((await ds.client.get(f"/data/{query}")).text)
        assert cells and not [c for c in cells if LONG_DECIMAL.search(c)], (query, cells)
    [row] = (await ds.client.get("/data/scores.json", params={"_shape": "array"})).json()
    assert row["brier_0_1"] == pytest.approx(expected["brier_0_1"], rel=1e-15)
    assert LONG_DECIMAL.search(repr(row["brier_0_1"]))  # the exact value has more than 4 decimals: it is not rounded
    csv = (await ds.client.get("/data/scores.csv")).text
    assert repr(row["brier_0_1"]) in csv
    html = (await ds.client.get("/data/scores")).text
    assert f">{g3(expected['brier_0_1'])}<" in html


async def test_no_page_title_is_sql(fixture_db):
    ds = await site(fixture_db)
    pages = ["/", "/about", "/data", "/data?sql=select+1", "/data/predictions/predictions-2020~2Fcalls~2F1"]
    pages += [f"/data/{name}" for name in QUERIES] + [f"/data/{name}" for name in METADATA["databases"]["data"]["tables"]
                                                      if not name.startswith("predictions_fts")]
    for path in pages:
        page = await ds.client.get(path)
        assert page.status_code == 200, path
        [title] = re.findall(r"<title>(.*?)</title>", page.text, re.S)
        assert "select" not in title.lower() and title.strip(), (path, title)
        if path.startswith("/data/") and path.split("/")[2] in QUERIES:
            assert title == f"{QUERIES[path.split('/')[2]]['title']} · {METADATA['short_title']}", path


async def test_tags_facet_returns_the_tags(fixture_db):
    ds = await site(fixture_db)
    page = (await ds.client.get("/data/prediction_overview.json")).json()
    facet = {r["value"]: r["count"] for r in page["facet_results"]["tags"]["results"]}
    assert facet == dict(Counter(t for i in fixture_items() for t in i["tags"]))
    html = (await ds.client.get("/data/prediction_overview")).text
    assert "tags__arraycontains=alpha" in html


async def test_column_descriptions_are_one_click_away(fixture_db):
    ds = await site(fixture_db)
    html = (await ds.client.get("/data/prediction_overview")).text
    columns = METADATA["databases"]["data"]["tables"]["prediction_overview"]["columns"]
    assert f"<summary>What the {len(columns)} columns mean</summary>" in html
    details = html.split('<details class="column-help">', 1)[1].split("</details>", 1)[0]
    assert all(f"<dt>{name}</dt>" in details for name in columns)
    # the columns a reader needs come first
    columns = (await ds.client.get("/data/prediction_overview.json")).json()["columns"]
    assert columns[:4] == ["prediction_id", "text", "probability_text", "outcome"]


async def test_prediction_row_page_shows_what_a_reader_came_for(fixture_db):
    ds = await site(fixture_db)
    item = next(i for i in fixture_items() if i["outcome"] == "partial")
    slug, section, number = item["id"].split("/")
    html = (await ds.client.get(f"/data/predictions/{slug}~2F{section}~2F{number}")).text
    assert f"Claim {number} of {slug} comes true" in html
    assert f'<a href="https://example.org/blog/{slug}/">Predictions {item["year"]}</a>' in html
    assert f'href="https://example.org/blog/{slug}/#{section}"' in html  # the section
    assert f'<a href="/?post={slug}">its track record</a>' in html
    assert f"{item['pct']:g}% as written" in html and f"partial ({item['o']})" in html
    assert f'<a href="https://evidence.example/{slug}/{number}">' in html
    assert f"on {resolved_on(slug, int(number))}" in html and f"{slug}.yml" in html  # judged when, from which file
    assert f"blog/{slug}/index.md, line" in html


async def test_atom_feed_of_resolutions_newest_first(fixture_db, bundled_db):
    ds = await site(fixture_db)
    response = await ds.client.get("/data/feed.atom")
    assert response.status_code == 200 and "xml" in response.headers["content-type"]
    ns = {"a": "http://www.w3.org/2005/Atom"}
    entries = ET.fromstring(response.text).findall("a:entry", ns)
    # every resolution with a date (a feed entry needs one), an explicit "open" aside
    resolved = [i for i in fixture_items()
                if i["outcome"] != "open" and resolved_on(i["post"], int(i["id"].rsplit("/", 1)[1]))]
    assert len(entries) == len(resolved) and resolved
    updated = [e.find("a:updated", ns).text for e in entries]
    assert updated == sorted(updated, reverse=True) and all(u.endswith("+00:00") for u in updated)
    assert len({e.find("a:id", ns).text for e in entries}) == len(entries)
    empty = await (await site(bundled_db)).client.get("/data/feed.atom")  # nothing resolved: still a valid feed
    assert empty.status_code == 200 and "Nothing resolved yet" in empty.text


class Links(HTMLParser):
    def __init__(self):
        super().__init__()
        self.hrefs = []

    def handle_starttag(self, tag, attrs):
        self.hrefs += [v for k, v in attrs if k == "href" and v]


async def test_sitemap_about_and_home_links_all_answer(fixture_db):
    ds = await site(fixture_db)
    sitemap = (await ds.client.get("/sitemap.xml")).text
    paths = [re.sub(r"^https?://[^/]+", "", loc) for loc in re.findall(r"<loc>(.*?)</loc>", sitemap)]
    assert "/" in paths and "/about" in paths
    assert sum(p.startswith("/data/predictions/") for p in paths) == len(fixture_items())
    assert "Sitemap:" in (await ds.client.get("/robots.txt")).text
    links = Links()
    for page in ("/", "/about"):
        links.feed((await ds.client.get(page)).text)
    assert not [h for h in links.hrefs if ":8001" in h]
    local = sorted({h for h in links.hrefs if h.startswith("/") and not h.startswith("//")})
    for path in [*paths, *local]:
        response = await ds.client.get(path.split("#")[0])
        assert response.status_code == 200, path


async def test_markdown_columns_are_rendered(tmp_path):
    post = ("---\ntitle: Predictions 2021\ndate: 2021-01-01\n---\n\n## Calls\n\n"
            "- It will **surely** happen, see [the paper](https://paper.example/) (_Probability: 70%_)\n")
    content = write_site(tmp_path / "site", {"blog/predictions-2021/index.md": post})
    (tmp_path / "res").mkdir()
    (tmp_path / "res" / "predictions-2021.yml").write_text(
        "resolutions:\n  predictions-2021/calls/1:\n    outcome: 'true'\n    resolved_on: 2021-12-31\n"
        "    note: It *did*, see [the report](https://report.example/).\n")
    ds = await site(build_db(tmp_path / "db" / "data.db", content, tmp_path / "res"))
    table = (await ds.client.get("/data/predictions")).text
    assert "<strong>surely</strong>" in table
    resolutions = (await ds.client.get("/data/resolutions")).text
    assert "<em>did</em>" in resolutions and '<a href="https://report.example/" rel="nofollow">the report</a>' in resolutions
    row = (await ds.client.get("/data/predictions/predictions-2021~2Fcalls~2F1")).text
    assert "<strong>surely</strong>" in row and "<em>did</em>" in row


async def test_posts_tags_and_authors_link_to_their_track_record(fixture_db):
    ds = await site(fixture_db)
    for table, href in (("posts", "/?post=predictions-2020"), ("tags", "/?tag=alpha"), ("authors", "/?author=Bob"),
                        ("prediction_overview", "/?post=predictions-2099")):
        assert f'href="{href}"' in (await ds.client.get(f"/data/{table}")).text, table
        assert (await ds.client.get(href)).status_code == 200
    assert "track record" not in (await ds.client.get("/data/posts.json")).text  # HTML only


async def test_long_misses_are_cut_to_a_readable_length(corpus_db):
    ds = await site(corpus_db)
    texts = [re.sub(r"<[^>]+>", "", r["forecast"]) for r in await chart_rows(ds, "misses")]
    db = sqlite3.connect(corpus_db)
    longest = db.execute("select max(length(text)) from predictions").fetchone()[0]
    assert longest > 160 and texts and all(len(t) <= 160 for t in texts)
    assert any(t.endswith("…") for t in texts)
