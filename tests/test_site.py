"""The Datasette site in-process: metadata, every canned query, and its numbers against plain Python.

Datasette runs here as it does under `predictions serve` (site_settings.datasette_kwargs: metadata.yml,
plugins/, templates/, settings), on databases built by the real CLI. The expected numbers come from the
predictions as this file states them, computed in a few lines of Python that share nothing with the SQL.
"""

import csv
import datetime as dt
import importlib.util
import io
import math
import os
import sqlite3
from collections import defaultdict
from statistics import NormalDist

import pytest
import yaml
from datasette.app import Datasette
from datasette.utils import escape_fts

from conftest import build_db, write_site
from predictions import site_settings

METADATA = yaml.safe_load(site_settings.METADATA.read_text())
QUERIES = METADATA["databases"]["data"]["queries"]
CHARTED = ("calibration", "scores_by", "open_by_month", "distribution", "reliability")

# The fixture posts: (percent as written, outcome, value for partial). Outcome None = no resolution.
POSTS = {
    "predictions-2020": dict(year=2020, tags=["alpha", "shared"], authors=["Ann"], calls=[
        ("15%", "false"), ("35%", "true"), ("50%", "true"), ("95%", "true"), ("0%", "false"),
        ("100%", "false"), ("15%", "true"), ("70%", "partial", 0.5), ("60%", "void"), ("80%", "ambiguous"),
        ("40%", "open"), ("90%", None), ("0.1%", "true"),
    ]),
    "predictions-2099": dict(year=2099, tags=["beta", "shared"], authors=["Bob", "Ann"], calls=[
        ("35%", "false"), ("95%", "true"), ("95%", "false"), ("0%", "true"), ("50%", "false"), ("25%", "true"),
        ("99.5%", "true"), ("65%", None), ("100%", "true"),
    ]),
}
VALUE = {"true": 1.0, "false": 0.0}
UNDATED = "predictions-2099/calls/2"  # its resolution gives no date


def resolved_on(slug, i):
    """The resolution date the fixture gives call i of a post (1-based): spread over the year, so quarters and
    horizons differ; None for UNDATED and for calls without a resolution."""
    post = POSTS[slug]
    if len(post["calls"][i - 1]) < 2 or post["calls"][i - 1][1] is None or f"{slug}/calls/{i}" == UNDATED:
        return None
    return dt.date(post["year"], (i * 5) % 12 + 1, 15)


def fixture_items():
    """Every fixture prediction: dict(id, post, year, tags, authors, pct, outcome, o)."""
    items = []
    for slug, post in POSTS.items():
        for i, (pct, outcome, *value) in enumerate(post["calls"], 1):
            o = value[0] if value else VALUE.get(outcome)
            items.append(dict(id=f"{slug}/calls/{i}", post=slug, title=f"Predictions {post['year']}",
                              year=post["year"], tags=post["tags"], authors=post["authors"],
                              pct=float(pct.rstrip("%")), outcome=outcome or "open", o=o,
                              posted=dt.date(post["year"], 1, 1), resolved=resolved_on(slug, i)))
    return items


def write_fixture(tmp_path):
    posts, files = {}, {}
    for slug, post in POSTS.items():
        front = [f"title: Predictions {post['year']}", f"date: {post['year']}-01-01", "authors:"]
        front += [f"  - name: {a}" for a in post["authors"]] + ["tags:"] + [f"  - {t}" for t in post["tags"]]
        calls = [f"- Claim {i} of {slug} comes true (_Probability: {c[0]}_)" for i, c in enumerate(post["calls"], 1)]
        posts[f"blog/{slug}/index.md"] = "---\n" + "\n".join(front) + "\n---\n\n## Calls\n\n" + "\n".join(calls) + "\n"
        entries = []
        for i, (_, outcome, *value) in enumerate(post["calls"], 1):
            if outcome:
                day = resolved_on(slug, i)
                entries.append(f"  {slug}/calls/{i}:\n    outcome: {outcome}\n"
                               + (f"    value: {value[0]}\n" if value else "")
                               + (f"    resolved_on: {day.isoformat()}\n" if day else "")
                               + f"    evidence:\n      - url: https://evidence.example/{slug}/{i}\n")
        files[f"{slug}.yml"] = "resolutions:\n" + "".join(entries)
    content = write_site(tmp_path / "site", posts)
    folder = tmp_path / "resolutions"
    folder.mkdir()
    for name, text in files.items():
        (folder / name).write_text(text)
    return build_db(tmp_path / "db" / "data.db", content, folder)


@pytest.fixture(scope="module")
def fixture_db(tmp_path_factory):
    return write_fixture(tmp_path_factory.mktemp("site"))


# The real corpus: the 2025 predictions as the review post and resolutions/predictions-2025.yml resolve
# them (percent, outcome), one 2025 prediction still open, and the twelve 2026 ones all open.
CORPUS_2025 = [(100, 1), (100, 1), (50, 1), (75, 0), (60, 0), (80, 0), (100, 1), (100, 1), (70, 1), (60, 0),
               (50, 1), (30, 0)]
CORPUS_OPEN = [60] + [100, 90, 70, 30, 75, 75, 100, 40, 100, 75, 80, 60]


def corpus_items():
    items = [dict(pct=float(p), o=float(o), outcome="true" if o else "false", year=2025) for p, o in CORPUS_2025]
    return items + [dict(pct=float(p), o=None, outcome="open", year=2025 if i == 0 else 2026)
                    for i, p in enumerate(CORPUS_OPEN)]


# ---------------------------------------------------------------- the independent computation


def mean(xs):
    xs = list(xs)
    return sum(xs) / len(xs) if xs else None


def scored(items):
    return [(i["pct"] / 100, i["o"]) for i in items if i["outcome"] in ("true", "false", "partial")]


Z = NormalDist().inv_cdf(0.975)  # the exact 97.5% normal quantile, 1.959963984540054


def clipped(f):
    return min(max(f, 0.001), 0.999)


def log_bits(f, o):
    """log2(probability given to what happened) + 1; None for a 0%/100% forecast that missed."""
    if (f == 1 and o < 1) or (f == 0 and o > 0):
        return None
    return 1 + sum(w * math.log2(q) for w, q in ((o, f), (1 - o, 1 - f)) if w > 0)


def interval(xs, low=None, high=None):
    """Mean +- Z standard errors (sample variance), kept inside [low, high]; None for fewer than two."""
    if len(xs) < 2:
        return None, None
    m = mean(xs)
    half = Z * math.sqrt(sum((x - m) ** 2 for x in xs) / (len(xs) - 1) / len(xs))
    lo, hi = m - half, m + half
    return (lo if low is None else max(low, lo)), (hi if high is None else min(high, hi))


def scores(items):
    s = scored(items)
    n = len(s)
    squared = [(f - o) ** 2 for f, o in s]
    brier = mean(squared)
    bits = [log_bits(f, o) for f, o in s]
    clipped_bits = [log_bits(clipped(f), o) for f, o in s]
    hit, miss = sum(o for _, o in s), sum(1 - o for _, o in s)
    base = mean(o for _, o in s)
    unc = None if not s else mean((o - base) ** 2 for _, o in s)  # the Brier score of always saying the base rate
    z_den = math.sqrt(sum((1 - 2 * clipped(f)) ** 2 * clipped(f) * (1 - clipped(f)) for f, _ in s))
    misses = sum(b is None for b in bits)
    folded = [(1 - f, 1 - o) if f < 0.5 else (f, o) for f, o in s]
    log_clipped = mean(clipped_bits)
    return dict(
        n_resolved=n,
        n_open=sum(i["outcome"] == "open" for i in items),
        n_void=sum(i["outcome"] == "void" for i in items),
        n_ambiguous=sum(i["outcome"] == "ambiguous" for i in items),
        brier_0_1=brier,
        brier_0_1_ci95_low=interval(squared, 0, 1)[0],
        brier_0_1_ci95_high=interval(squared, 0, 1)[1],
        brier_two_category_0_2=None if brier is None else sum((f - o) ** 2 + ((1 - f) - (1 - o)) ** 2 for f, o in s) / n,
        brier_skill_vs_50=None if brier is None else 1 - brier / 0.25,
        base_rate=base,
        brier_skill_vs_base_rate=None if not unc else 1 - brier / unc,
        log_score_bits_clipped=log_clipped,
        log_score_bits_clipped_ci95_low=interval(clipped_bits)[0],
        log_score_bits_clipped_ci95_high=interval(clipped_bits, None, 1)[1],
        metaculus_baseline_score=mean(100 * (math.log2(clipped(f) if o == 1 else 1 - clipped(f)) + 1) if o in (0, 1)
                                      else 100 * log_bits(clipped(f), o) for f, o in s),
        log_score_bits_unclipped=mean(bits) if s and not misses else None,
        log_score_unclipped_text=(None if not s else f"−∞ ({misses} certain miss{'es' if misses > 1 else ''})" if misses
                                  else f"{mean(bits):.3f} bits"),
        certain_misses=misses,
        calibration_in_the_large=None if not s else mean(f for f, _ in s) - mean(o for _, o in s),
        overconfidence=None if not s else mean(f for f, _ in folded) - mean(o for _, o in folded),
        sharpness=None if not s else mean(abs(f - 0.5) for f, _ in s),
        discrimination=None if not hit or not miss else (
            sum(f * o for f, o in s) / hit - sum(f * (1 - o) for f, o in s) / miss),
        spiegelhalter_z=None if not z_den else sum((o - clipped(f)) * (1 - 2 * clipped(f)) for f, o in s) / z_den,
    )


def folded(items, fold):
    for i in items:
        if i["outcome"] in ("true", "false", "partial"):
            if fold and i["pct"] < 50:
                yield 100 - i["pct"], 1 - i["o"]
            else:
                yield i["pct"], i["o"]


def bucket_of(pct, width):
    """(lower edge, interior): 0% and 100% are buckets of their own, the others [k * width, (k + 1) * width)."""
    if width is None or pct in (0, 100):
        return pct, False
    return math.floor(pct / width) * width, True


def calibration(items, fold=False, width=None):
    groups = defaultdict(list)
    for pct, o in folded(items, fold):
        groups[bucket_of(pct, width)].append((pct, o))
    rows = []
    for key in sorted(groups):
        g = groups[key]
        n, k = len(g), sum(o for _, o in g)
        p = k / n
        centre = (p + Z * Z / (2 * n)) / (1 + Z * Z / n)
        half = Z * math.sqrt(p * (1 - p) / n + Z * Z / (4 * n * n)) / (1 + Z * Z / n)
        rows.append(dict(bucket_percent=key[0], n=n, hits=k, frequency=p, mean_probability=mean(q for q, _ in g) / 100,
                         wilson_lower=max(0.0, centre - half), wilson_upper=min(1.0, centre + half)))
    return rows


def murphy(items, fold=False, width=None):
    pairs = list(folded(items, fold))
    if not pairs:
        return dict(n=0, groups=0, base_rate=None, reliability=None, resolution=None, uncertainty=None,
                    brier_0_1=None, note="nothing resolved: no decomposition")
    groups = defaultdict(list)
    for pct, o in pairs:
        groups[bucket_of(pct, width)].append((pct / 100, o))
    n = len(pairs)
    base = mean(o for _, o in pairs)
    rel = sum(len(g) * (mean(f for f, _ in g) - mean(o for _, o in g)) ** 2 for g in groups.values()) / n
    res = sum(len(g) * (mean(o for _, o in g) - base) ** 2 for g in groups.values()) / n
    unc = mean((o - base) ** 2 for _, o in pairs)  # the spread of the outcomes: base(1 - base) without partials
    brier = mean((pct / 100 - o) ** 2 for pct, o in pairs)
    alike = all(len({o for _, o in g}) == 1 for g in groups.values())
    note = "within every group the outcomes are all alike" if alike else "groups are buckets" if width else None
    return dict(n=n, groups=len(groups), base_rate=base, reliability=rel, resolution=res, uncertainty=unc,
                rel_minus_res_plus_unc=rel - res + unc, brier_0_1=brier, identity_difference=brier - (rel - res + unc),
                note=note)


def assert_close(actual, expected, where=""):
    """Every key of expected equals actual's, numbers to 1e-12 (floating-point order of operations)."""
    for key, value in expected.items():
        got = actual[key]
        if value is None or isinstance(value, str):
            assert got == value, f"{where} {key}: {got!r} != {value!r}"
        else:
            assert got == pytest.approx(value, rel=1e-12, abs=1e-12), f"{where} {key}: {got!r} != {value!r}"


# ---------------------------------------------------------------- Datasette in-process


async def site(db_path):
    ds = Datasette(**site_settings.datasette_kwargs(db_path))
    await ds.invoke_startup()
    return ds


async def rows(ds, query, **params):
    response = await ds.client.get(f"/data/{query}.json", params={"_shape": "array", **params})
    assert response.status_code == 200, response.text
    return response.json()


@pytest.mark.parametrize("query", sorted(QUERIES))
async def test_every_query_answers_as_html_json_and_csv(query, fixture_db, corpus_db, bundled_db):
    for db_path in (fixture_db, corpus_db, bundled_db):  # bundled: every prediction still open
        ds = await site(db_path)
        params = {"q": "claim"} if query == "search" else {}
        html = await ds.client.get(f"/data/{query}", params=params)
        assert html.status_code == 200 and "message-error" not in html.text, html.text[-2000:]
        assert QUERIES[query]["title"] in html.text
        data = await rows(ds, query, **params)
        assert isinstance(data, list)
        response = await ds.client.get(f"/data/{query}.csv", params=params)
        assert response.status_code == 200 and response.headers["content-type"].startswith("text/plain")
        table = list(csv.reader(io.StringIO(response.text)))
        assert len(table) == len(data) + 1
        if data:
            assert table[0] == list(data[0])


async def test_search_finds_words_and_survives_punctuation(fixture_db):
    ds = await site(fixture_db)
    found = await rows(ds, "search", q="claim 7")
    assert [r["prediction_id"] for r in found] == ["predictions-2020/calls/7", "predictions-2099/calls/7"]
    assert "**Claim**" in found[0]["snippet"]
    assert await rows(ds, "search", q="") == []
    assert await rows(ds, "search", q='"unbalanced (quote - AND') == []
    assert len(await rows(ds, "search", q="claim", post="predictions-2099")) == 9


async def test_scores_equal_the_python_computation(fixture_db):
    ds = await site(fixture_db)
    items = fixture_items()
    [row] = await rows(ds, "scores")
    expected = scores(items)
    assert_close(row, expected)
    # the fixture has what the scores must survive: two certain misses, a partial, void, ambiguous, open
    assert (row["n_resolved"], row["n_open"], row["n_void"], row["n_ambiguous"], row["certain_misses"]) == (17, 3, 1, 1, 2)
    assert row["log_score_bits_unclipped"] is None and row["log_score_unclipped_text"] == "−∞ (2 certain misses)"
    # every resolved forecast is in the clipped log score: the two certain misses cost log2(0.001) + 1 bits each
    others = [log_bits(f, o) for f, o in scored(items) if log_bits(f, o) is not None]
    assert len(others) == 15
    misses = [(f, o) for f, o in scored(items) if log_bits(f, o) is None]
    assert row["log_score_bits_clipped"] * 17 == pytest.approx(
        sum(log_bits(clipped(f), o) for f, o in scored(items) if (f, o) not in misses) + 2 * (math.log2(0.001) + 1))
    assert row["log_score_bits_clipped"] < mean(others)  # the old mean left the misses out and flattered
    assert all(math.isfinite(v) for v in row.values() if not isinstance(v, str | type(None)))
    for params, keep in [
        (dict(post="predictions-2099"), lambda i: i["post"] == "predictions-2099"),
        (dict(post="Predictions 2020"), lambda i: i["post"] == "predictions-2020"),
        (dict(year="2020"), lambda i: i["year"] == 2020),
        (dict(tag="beta"), lambda i: "beta" in i["tags"]),
        (dict(tag="shared"), lambda i: True),
        (dict(author="Bob"), lambda i: "Bob" in i["authors"]),
        (dict(author="ann", year="2099"), lambda i: "Ann" in i["authors"] and i["year"] == 2099),
        (dict(tag="nothing-like-this"), lambda i: False),
    ]:
        [row] = await rows(ds, "scores", **params)
        assert_close(row, scores([i for i in items if keep(i)]), str(params))


@pytest.mark.parametrize("fold", [False, True])
@pytest.mark.parametrize("width", [None, 10, 20])
async def test_calibration_equals_the_python_computation(fixture_db, fold, width):
    ds = await site(fixture_db)
    params = {"fold": "on" if fold else "", "bucket": str(width or "")}
    result = await rows(ds, "calibration", **params)
    observed = [r for r in result if r["series"] == "observed"]
    reference = [r for r in result if r["series"] == "perfect calibration"]
    expected = calibration(fixture_items(), fold, width)
    assert len(observed) == len(reference) == len(expected)
    for got, want in zip(observed, expected, strict=True):
        assert_close(got, want, f"{params} {want['bucket_percent']}")
    for got, want in zip(reference, expected, strict=True):
        assert_close(got, dict(bucket_percent=want["bucket_percent"], n=want["n"], hits=None,
                               frequency=want["mean_probability"], mean_probability=want["mean_probability"],
                               wilson_lower=None, wilson_upper=None))


async def test_calibration_buckets_are_exact_percents(fixture_db):
    ds = await site(fixture_db)
    exact = {r["bucket"]: r["n"] for r in await rows(ds, "calibration") if r["series"] == "observed"}
    assert exact == {"0%": 2, "0.1%": 1, "15%": 2, "25%": 1, "35%": 2, "50%": 2, "70%": 1, "95%": 3, "99.5%": 1,
                     "100%": 2}
    # both ends alike: 0% is its own bucket as 100% is, apart from 0.1%
    tens = [(r["bucket"], r["n"]) for r in await rows(ds, "calibration", bucket="10") if r["series"] == "observed"]
    assert tens == [("0%", 2), (">0% to <10%", 1), ("10% to <20%", 2), ("20% to <30%", 1), ("30% to <40%", 2),
                    ("50% to <60%", 2), ("70% to <80%", 1), ("90% to <100%", 4), ("100%", 2)]
    folded_rows = {r["bucket"]: (r["n"], r["hits"]) for r in await rows(ds, "calibration", fold="on")
                   if r["series"] == "observed"}
    # 15% false + 15% true -> 85% true + 85% false; 0% (false, true) -> 100%; 50% keeps "it happened"
    assert folded_rows["85%"] == (2, 1.0) and folded_rows["50%"] == (2, 1.0) and folded_rows["100%"] == (4, 2.0)


@pytest.mark.parametrize("fold", [False, True])
@pytest.mark.parametrize("width", [None, 10, 25])
async def test_murphy_equals_the_python_computation(fixture_db, corpus_db, fold, width):
    for db_path, items in ((fixture_db, fixture_items()), (corpus_db, corpus_items())):
        ds = await site(db_path)
        [row] = await rows(ds, "murphy", fold="on" if fold else "", bucket=str(width or ""))
        expected = murphy(items, fold, width)
        want = expected.pop("note")
        assert row["note"] is None if want is None else row["note"].startswith(want)
        assert_close(row, expected, db_path.parent.name)
        [s] = await rows(ds, "scores")
        assert row["brier_0_1"] == pytest.approx(s["brier_0_1"], abs=1e-15)
        if width is None:  # exact with exact percents, partial resolutions included (the fixture has one)
            assert abs(row["identity_difference"]) < 1e-15
    # the corpus's 2025 groups each hold one outcome: reliability is then the Brier score, and the note says so
    [row] = await rows(await site(corpus_db), "murphy")
    assert row["reliability"] == pytest.approx(row["brier_0_1"], abs=1e-15) and "tell nothing" in row["note"]


async def test_murphy_says_when_it_tells_nothing(tmp_path):
    """Each stated percent used once: reliability is the Brier score and the note says so; nothing resolved: n = 0."""
    calls = [("10%", "false"), ("35%", "true"), ("80%", "true"), ("95%", "false")]
    lines = "".join(f"- Claim {i} (_Probability: {p}_)\n" for i, (p, _) in enumerate(calls, 1))
    content = write_site(tmp_path / "site", {"blog/p/index.md": f"---\ntitle: Predictions 2030\n---\n\n## Calls\n\n{lines}"})
    (tmp_path / "res").mkdir()
    (tmp_path / "res" / "p.yml").write_text("resolutions:\n" + "".join(
        f"  p/calls/{i}:\n    outcome: {o}\n" for i, (_, o) in enumerate(calls, 1)))
    ds = await site(build_db(tmp_path / "data.db", content, tmp_path / "res"))
    [row] = await rows(ds, "murphy")
    brier = mean((float(p[:-1]) / 100 - (o == "true")) ** 2 for p, o in calls)
    assert row["n"] == row["groups"] == 4 and row["reliability"] == pytest.approx(brier, abs=1e-15)
    assert row["resolution"] == pytest.approx(row["uncertainty"], abs=1e-15) and "tell nothing" in row["note"]
    [row] = await rows(ds, "murphy", year="1999")
    assert (row["n"], row["groups"], row["reliability"], row["note"]) == (0, 0, None, "nothing resolved: no decomposition")


@pytest.mark.parametrize("by", ["", "post", "year", "tag", "author", "section"])
async def test_scores_by_equals_the_python_computation(fixture_db, by):
    ds = await site(fixture_db)
    items = fixture_items()
    keys = {
        "post": lambda i: [(i["post"], i["title"])],
        "year": lambda i: [(i["year"], str(i["year"]))],
        "tag": lambda i: [(t, t) for t in i["tags"]],
        "author": lambda i: [(a.lower(), a) for a in i["authors"]],
        "section": lambda i: [(f"{i['post']}#calls", f"Calls ({i['title']})")],
    }[by or "post"]
    groups = defaultdict(list)
    for i in items:
        for key in keys(i):
            groups[key].append(i)
    result = await rows(ds, "scores_by", by=by)
    assert {(r["key"], r["label"]) for r in result} == set(groups)
    for r in result:
        members = groups[(r["key"], r["label"])]
        assert r["grouping"] == (by or "post") and r["n"] == len(members)
        expected = scores(members)
        expected["n_void_or_ambiguous"] = expected.pop("n_void") + expected.pop("n_ambiguous")
        assert_close(r, expected, f"{by} {r['key']}")
        assert r["cumulative_brier_0_1"] is None


HORIZON_LABELS = {0: "up to 30 days", 31: "31 to 90 days", 91: "91 to 180 days", 181: "181 to 365 days",
                  366: "over 365 days"}


def time_key(by, i):
    """(key, label) of a fixture item under a time grouping, from its dates; None for open items."""
    if i["outcome"] == "open":
        return None
    day = i["resolved"]
    if by == "horizon":
        if day is None:
            return None, "(no post date or no resolution date)"
        days = (day - i["posted"]).days
        lower = max(b for b in HORIZON_LABELS if b <= days)
        return lower, HORIZON_LABELS[lower]
    if day is None:
        return None, "(no resolution date)"
    key = day.year if by == "resolved_year" else f"{day.year}-Q{(day.month - 1) // 3 + 1}"
    return key, str(key)


@pytest.mark.parametrize("by", ["resolved_year", "resolved_quarter", "horizon"])
async def test_scores_over_time_and_horizon_equal_the_python_computation(fixture_db, by):
    ds = await site(fixture_db)
    groups = defaultdict(list)
    for i in fixture_items():
        if (key := time_key(by, i)) is not None:
            groups[key].append(i)
    result = await rows(ds, "scores_by", by=by)
    dated = sorted(k for k in groups if k[0] is not None)
    # in time order, the undated group last; cumulative over the groups so far
    assert [(r["key"], r["label"]) for r in result] == dated + [k for k in groups if k[0] is None]
    assert len(dated) >= (2 if by == "resolved_year" else 3)
    so_far = []
    for r in result:
        members = groups[(r["key"], r["label"])]
        expected = scores(members)
        expected["n_void_or_ambiguous"] = expected.pop("n_void") + expected.pop("n_ambiguous")
        assert r["grouping"] == by and r["n"] == len(members) and r["n_open"] == 0
        assert_close(r, expected, f"{by} {r['key']}")
        if r["key"] is None:
            assert r["cumulative_brier_0_1"] is None
            continue
        so_far += members
        assert_close(r, dict(cumulative_n_resolved=len(scored(so_far)), cumulative_brier_0_1=scores(so_far)["brier_0_1"],
                             cumulative_log_score_bits_clipped=scores(so_far)["log_score_bits_clipped"]), str(r["key"]))


async def test_predictions_before_the_first_heading_are_each_posts_own_group(tmp_path):
    posts = {f"blog/{slug}/index.md": f"---\ntitle: {title}\ndate: 2030-01-01\n---\n\n"
             f"- {slug} early one (_Probability: 70%_)\n- {slug} early two (_Probability: 20%_)\n\n"
             f"## Later\n\n- {slug} later (_Probability: 60%_)\n"
             for slug, title in (("first", "First post"), ("second", "Second post"))}
    content = write_site(tmp_path / "site", posts)
    (tmp_path / "res").mkdir()
    ds = await site(build_db(tmp_path / "data.db", content, tmp_path / "res"))
    db = sqlite3.connect(tmp_path / "data.db")
    ids = dict(db.execute("select id, post_id from predictions where section_id is null"))
    assert sorted(ids.values()) == ["first", "first", "second", "second"]
    got = {(r["key"], r["label"], r["n"]) for r in await rows(ds, "scores_by", by="section")}
    later = {row[0]: row[1] for row in db.execute("select post_id, id from sections")}
    assert got == {("first#", "(before the first heading) (First post)", 2),
                   ("second#", "(before the first heading) (Second post)", 2),
                   (later["first"], "Later (First post)", 1), (later["second"], "Later (Second post)", 1)}


async def test_the_real_corpus(corpus_db):
    ds = await site(corpus_db)
    # by hand: the squared errors of the 12 resolved 2025 predictions
    squared = [(p / 100 - o) ** 2 for p, o in CORPUS_2025]
    assert sum(squared) == pytest.approx(2.6025, abs=1e-12)
    [row] = await rows(ds, "scores")
    assert row["brier_0_1"] == pytest.approx(0.216875, abs=1e-12) == 2.6025 / 12
    assert_close(row, scores(corpus_items()))
    [row] = await rows(ds, "scores", year="2025")
    assert row["brier_0_1"] == pytest.approx(0.216875, abs=1e-12) and row["n_resolved"] == 12
    assert_close(row, scores([i for i in corpus_items() if i["year"] == 2025]))
    for fold in (False, True):
        result = await rows(ds, "calibration", fold="on" if fold else "")
        observed = [r for r in result if r["series"] == "observed"]
        for got, want in zip(observed, calibration(corpus_items(), fold), strict=True):
            assert_close(got, want)
    by_post = {r["key"]: r for r in await rows(ds, "scores_by")}
    assert by_post["predictions-2025"]["brier_0_1"] == pytest.approx(0.216875)
    assert by_post["predictions-2026"]["n_open"] == 12 and by_post["predictions-2026"]["brier_0_1"] is None
    # the distribution counts every prediction once
    dist = await rows(ds, "distribution")
    assert sum(r["n"] for r in dist) == 25
    assert {(r["stated_percent"], r["outcome"]): r["n"] for r in dist}[(100.0, "true")] == 4


FILTERS = [
    (dict(year="2099"), lambda i: i["year"] == 2099),
    (dict(tag="beta"), lambda i: "beta" in i["tags"]),
    (dict(post="Predictions 2020", author="ann"), lambda i: i["post"] == "predictions-2020"),
    (dict(tag="shared", author="Bob"), lambda i: "Bob" in i["authors"]),
    (dict(year="2020", tag="beta"), lambda i: False),
]


@pytest.mark.parametrize("params, keep", FILTERS, ids=[str(p) for p, _ in FILTERS])
async def test_filters_narrow_every_query(fixture_db, params, keep):
    """post, year, tag and author keep the same predictions in every query, and the numbers follow them."""
    ds = await site(fixture_db)
    items = [i for i in fixture_items() if keep(i)]
    observed = [r for r in await rows(ds, "calibration", **params) if r["series"] == "observed"]
    for got, want in zip(observed, calibration(items), strict=True):
        assert_close(got, want, str(params))
    [row] = await rows(ds, "murphy", **params)
    expected = murphy(items)
    want = expected.pop("note")
    assert row["note"] is None if want is None else row["note"].startswith(want)
    assert_close(row, expected, str(params))
    [row] = await rows(ds, "scores", **params)
    assert_close(row, scores(items), str(params))
    for r in await rows(ds, "scores_by", **params):
        members = [i for i in items if i["post"] == r["key"]]
        expected = scores(members)
        expected["n_void_or_ambiguous"] = expected.pop("n_void") + expected.pop("n_ambiguous")
        assert r["n"] == len(members) > 0
        assert_close(r, expected, f"{params} {r['key']}")
    assert {r["key"] for r in await rows(ds, "scores_by", **params)} == {i["post"] for i in items}
    dist = {(r["stated_percent"], r["outcome"]): r["n"] for r in await rows(ds, "distribution", **params)}
    assert dist == {k: sum((i["pct"], i["outcome"]) == k for i in items) for k in {(i["pct"], i["outcome"]) for i in items}}
    missed = [i["id"] for i in items
              if i["o"] is not None and (i["pct"] > 50 > i["o"] * 100 or i["pct"] < 50 < i["o"] * 100)]
    assert sorted(r["prediction_id"] for r in await rows(ds, "misses", **params)) == sorted(missed)
    opened = [i["id"] for i in items if i["outcome"] == "open"]
    assert sorted(r["prediction_id"] for r in await rows(ds, "open", **params)) == sorted(opened)
    assert sum(r["n"] for r in await rows(ds, "open_by_month", **params)) == len(opened)
    found = await rows(ds, "search", q="claim", **params)
    assert sorted(r["prediction_id"] for r in found) == sorted(i["id"] for i in items)


def test_derived_tables_hold_the_facts_of_the_base_tables(fixture_db, corpus_db):
    """scored_predictions is prediction_status narrowed; a post's score_sums row adds up its sections' rows."""
    sums = ("n", "n_resolved", "n_open", "n_void", "n_ambiguous", "certain_misses", "squared_errors", "log_score_bits",
            "sum_probability", "sum_value", "sum_probability_value", "z_numerator", "z_variance")
    for db_path in (fixture_db, corpus_db):
        db = sqlite3.connect(db_path)
        assert db.execute("select prediction_id, post_id, year, stated_percent, probability, outcome, value, resolves_by "
                          "from scored_predictions order by 1").fetchall() == db.execute(
            "select prediction_id, post_id, year, stated_percent, probability, outcome, outcome_value, resolves_by "
            "from prediction_status order by 1").fetchall()
        posts = db.execute(f"select post_id, year, {', '.join(sums)} from score_sums where level = 'post' "
                           "order by post_id").fetchall()
        sections = db.execute(f"select post_id, year, {', '.join(f'sum({c})' for c in sums)} from score_sums "
                              "where level = 'section' group by post_id order by post_id").fetchall()
        assert [r[:8] for r in posts] == [r[:8] for r in sections]  # post, year and the counts
        assert [r[8:] for r in posts] == [tuple(x if x is None else pytest.approx(x, rel=1e-12) for x in r[8:])
                                          for r in sections]
        assert sum(r[2] for r in posts) == db.execute("select count(*) from predictions").fetchone()[0]


async def test_misses_open_and_open_by_month(fixture_db):
    ds = await site(fixture_db)
    misses = await rows(ds, "misses")
    # 100% false and 0% true are certain misses and come first; 50% never counts as going the other way
    assert [(r["stated_percent"], r["certain_miss"]) for r in misses[:2]] == [(100.0, 1), (0.0, 1)]
    assert [r["stated_percent"] for r in misses[2:]] == [0.1, 95.0, 15.0, 25.0, 35.0]
    assert all(r["evidence_url"].startswith("https://evidence.example/") for r in misses)
    assert all(r["miss"] == pytest.approx(abs(r["stated_percent"] / 100 - (r["outcome"] == "true"))) for r in misses)
    opened = await rows(ds, "open")
    assert {r["prediction_id"] for r in opened} == {"predictions-2020/calls/11", "predictions-2020/calls/12",
                                                    "predictions-2099/calls/8"}
    # as of today: 2020 has passed, 2099 has not
    assert {r["prediction_id"]: (r["overdue"], r["days_left"] < 0) for r in opened} == {
        "predictions-2020/calls/11": (1, True), "predictions-2020/calls/12": (1, True),
        "predictions-2099/calls/8": (0, False)}
    by_month = await rows(ds, "open_by_month")
    assert by_month == [dict(month="2020-12", status="due", n=0), dict(month="2020-12", status="overdue", n=2),
                        dict(month="2099-12", status="due", n=1), dict(month="2099-12", status="overdue", n=0)]


async def test_charted_queries_return_two_rows_and_link_their_chart(corpus_db):
    ds = await site(corpus_db)
    database_page = (await ds.client.get("/data")).text
    for name in CHARTED:
        query = QUERIES[name]
        assert query["fragment"].startswith("g.mark=")
        assert f"/data/{name}#{query['fragment']}".replace("&", "&amp;") in database_page
        linked = QUERIES["open" if name == "open_by_month" else name]["description_html"]
        assert f"{name}#{query['fragment']}".replace("&", "&amp;") in linked.replace("\n", "")
        assert len(await rows(ds, name)) >= 2, name
    calibration_rows = await rows(ds, "calibration")
    assert {r["series"] for r in calibration_rows} == {"observed", "perfect calibration"}


async def test_metadata_describes_every_visible_column(fixture_db):
    ds = await site(fixture_db)
    tables = METADATA["databases"]["data"]["tables"]
    db = sqlite3.connect(fixture_db)
    names = [r[0] for r in db.execute("select name from sqlite_master where type in ('table', 'view') "
                                      "and name not like 'sqlite_%' and name not like 'predictions_fts%'")]
    for name in names:
        columns = [r[1] for r in db.execute(f'pragma table_info("{name}")')]
        assert tables[name]["description"], name
        assert set(tables[name]["columns"]) == set(columns), name
        assert all(tables[name]["columns"].values()), name
    listed = {t["name"]: t for t in (await ds.client.get("/data.json")).json()["tables"]}
    assert all(listed[n]["hidden"] for n in listed if n.startswith("predictions_fts"))
    assert not any(listed[n]["hidden"] for n in names if n in listed)
    for key in ("title", "license", "license_url", "source", "source_url", "about", "about_url"):
        assert METADATA[key]
    home = (await ds.client.get("/")).text
    assert "https://creativecommons.org/licenses/by-nc/4.0/" in home and "/about" in home
    about = await ds.client.get("/about")
    assert about.status_code == 200 and "About this dataset" in about.text
    # facets, labels and full-text search on the tables
    page = await ds.client.get("/data/prediction_overview.json", params={"tags__arraycontains": "beta"})
    assert page.json()["filtered_table_rows_count"] == 9
    labelled = (await ds.client.get("/data/predictions.json", params={"_labels": "on", "_shape": "array",
                                                                      "_size": 1})).json()
    assert labelled[0]["post_id"] == {"value": "predictions-2020", "label": "Predictions 2020"}
    searched = (await ds.client.get("/data/predictions.json", params={"_search": "claim 3", "_shape": "array"})).json()
    assert {r["id"] for r in searched} == {"predictions-2020/calls/3", "predictions-2099/calls/3"}


async def test_plugins_settings_and_headers(fixture_db):
    ds = await site(fixture_db)
    plugins = {p["name"] for p in (await ds.client.get("/-/plugins.json")).json()}
    assert {"sql_math.py", "limits.py", "pages.py", "datasette-vega"} <= plugins
    settings = (await ds.client.get("/-/settings.json")).json()
    assert {k: settings[k] for k in site_settings.SETTINGS} == site_settings.SETTINGS
    response = await ds.client.get("/data/scores.json")
    assert response.headers["access-control-allow-origin"] == "*"
    assert response.headers["cache-control"] == f"max-age={site_settings.SETTINGS['default_cache_ttl']}"


def load_sql_math():
    return load_plugin("sql_math")


def load_plugin(name):
    """One of the site's plugins as a module (they live in a folder Datasette loads, not in the package)."""
    spec = importlib.util.spec_from_file_location(name, site_settings.PLUGINS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("db_name", ["fixture", "corpus"])
def test_queries_give_the_same_numbers_with_the_plugins_math_functions(db_name, fixture_db, corpus_db):
    """Run every canned query with SQLite's math functions, then with the plugin's Python ones in their place."""
    sql_math = load_sql_math()
    page_size = load_plugin("page_size")
    db_path = fixture_db if db_name == "fixture" else corpus_db

    def run_all(replace):
        conn = sqlite3.connect(db_path)
        conn.create_function("escape_fts", 1, escape_fts)
        load_plugin("forecast_stats").register(conn)
        if replace:
            sql_math.register(conn, list(sql_math.FUNCTIONS))
        results = {}
        for name, query in QUERIES.items():
            params = {p: "" for p in query.get("params", [])}
            if ":_page_size" in query["sql"]:  # as the site binds it (plugins/page_size.py)
                params["_page_size"] = page_size.DEFAULT
            for extra in ({}, {"fold": "on"}, {"bucket": "10"}, {"by": "tag"}, {"by": "horizon"}, {"q": "claim"}):
                if set(extra) <= set(params):
                    results[name, str(extra)] = conn.execute(query["sql"], {**params, **extra}).fetchall()
        return results

    builtin, python = run_all(False), run_all(True)
    assert builtin.keys() == python.keys()
    for key in builtin:
        assert len(builtin[key]) == len(python[key]), key
        for a, b in zip(builtin[key], python[key], strict=True):
            assert [pytest.approx(x, rel=1e-12, abs=1e-15) if isinstance(x, float) else x for x in a] == list(b), key


def test_sql_math_registers_what_is_missing_with_sqlites_behaviour():
    sql_math = load_sql_math()
    conn = sqlite3.connect(":memory:")
    sql_math.register(conn)  # only the missing ones (none on a SQLite built with math functions)
    assert sql_math.missing(conn) == []
    sql_math.register(conn, list(sql_math.FUNCTIONS))  # what a SQLite without them would get
    assert conn.execute("select sqrt(-1), log2(0), ln(-1), log2(8), sqrt(2.25), power(2, 10), ln(null)").fetchone() == (
        None, None, None, 3.0, 1.5, 1024.0, None)


def test_serve_rebuilds_only_when_missing_or_older_than_its_sources(tmp_path):
    from predictions import config, serve

    post = "---\ntitle: Predictions 2040\n---\n\nIt rains. _Probability: 70%_\n"
    content = write_site(tmp_path / "site", {"blog/p/index.md": post})
    resolutions = tmp_path / "resolutions"
    resolutions.mkdir()
    db_path = tmp_path / "data.db"
    dataset = config.default(tmp_path).with_content([content]).with_paths(db_path=db_path, resolutions=resolutions)
    assert serve.plan(dataset)[0] == "build"
    build_db(db_path, content, resolutions)
    assert serve.plan(dataset)[0] == "serve"
    later = db_path.stat().st_mtime + 10
    for newer in (resolutions / "p.yml", content / "blog" / "p" / "index.md", tmp_path / "site" / "hugo.yaml"):
        newer.touch()
        os.utime(newer, (later, later))
        assert serve.plan(dataset)[0] == "build", newer
        os.utime(newer, (later - 20, later - 20))
    assert serve.plan(dataset)[0] == "serve"
    other = dataset.with_content([write_site(tmp_path / "other", {"blog/q/index.md": post})])
    assert serve.plan(other)[0] == "keep"


def test_serve_command_line(tmp_path):
    argv = site_settings.serve_argv(tmp_path / "data.db", "127.0.0.1", 8123)
    joined = " ".join(argv)
    assert f"-i {tmp_path / 'data.db'} --inspect-file {tmp_path / 'inspect-data.json'}" in joined
    assert f"-m {site_settings.METADATA}" in joined and "--plugins-dir" in argv and "--template-dir" in argv
    assert "--setting sql_time_limit_ms 3000" in joined and argv[-1] == "--cors"
    assert argv[argv.index("--port") + 1] == "8123"


async def test_long_lists_come_in_pages_that_size_sets(tmp_path):
    """open, misses, search and scores_by return a page of 100 rows (plugins/page_size.py); `_size` asks for more,
    `max` for the cap, the CSV link on the page for every row up to the cap; a full page says so and links on."""
    n = 250
    calls = "\n".join(f"- Claim {i} comes true (_Probability: 70%_)" for i in range(1, n + 1))
    content = write_site(tmp_path / "site", {"blog/many/index.md": f"---\ntitle: Many\ndate: 2030-01-01\n---\n\n"
                                                                     f"## Calls\n\n{calls}\n"})
    (tmp_path / "res").mkdir()
    ds = await site(build_db(tmp_path / "data.db", content, tmp_path / "res"))
    ids = [f"many/calls/{i}" for i in range(1, n + 1)]  # all open, one date: in the order of the post
    assert [r["prediction_id"] for r in await rows(ds, "open")] == ids[:100]
    assert [r["prediction_id"] for r in await rows(ds, "open", _size="7")] == ids[:7]
    assert [r["prediction_id"] for r in await rows(ds, "open", _size="max")] == ids
    assert len(await rows(ds, "open", _size="100000")) == n  # at most the cap (2,000), here every row
    assert len(await rows(ds, "open", _size="lots")) == 100
    assert len(await rows(ds, "search", q="claim")) == 100
    assert len(await rows(ds, "search", q="claim", _size="max")) == n
    html = (await ds.client.get("/data/open")).text
    assert "The first 100 rows" in html and 'href="/data/open?_size=max"' in html
    csv_link = next(a for a in html.split('href="')[1:] if a.startswith("/data/open.csv")).split('"')[0]
    assert "_size=max" in csv_link
    table = list(csv.reader(io.StringIO((await ds.client.get(csv_link.replace("&amp;", "&"))).text)))
    assert [r[0] for r in table[1:]] == ids
    assert "The first" not in (await ds.client.get("/data/open", params={"_size": "max"})).text  # 250 < the cap
    assert "The first" not in (await ds.client.get("/data/scores")).text  # not a paged query
