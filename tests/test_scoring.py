"""The figures that need every forecast at once (calibration_fit, reliability) against plain Python.

The site answers them through the forecast_stats SQL aggregate (web/plugins/forecast_stats.py, on scipy); the expected
numbers here come from a few lines of pure Python: pool-adjacent-violators, Newton's method for the logistic
fit, Brier scores of the recalibrated forecasts. Fixtures: test_site's (0%, 0.1%, 15%, 35%, 50%, 95%, 99.5%,
100%, partial, void, ambiguous, open, two certain misses) and the real corpus.
"""

import math
from collections import defaultdict

import pytest
from test_site import (
    FILTERS,
    assert_close,
    clipped,
    corpus_items,
    fixture_items,
    mean,
    rows,
    scored,
    scores,
    site,
    write_fixture,
)

from conftest import build_db, write_site


@pytest.fixture(scope="module")
def fixture_db(tmp_path_factory):
    return write_fixture(tmp_path_factory.mktemp("site"))


def by_forecast(items):
    """[(f, mean outcome, mean squared outcome, n)] over the resolved items, f ascending."""
    groups = defaultdict(list)
    for f, o in scored(items):
        groups[f].append(o)
    return [(f, mean(os), mean(o * o for o in os), len(os)) for f, os in sorted(groups.items())]


def pav(points):
    """Weighted pool-adjacent-violators: the non-decreasing fit to the mean outcomes, one value per point."""
    blocks = []  # [weight, weighted sum, how many points]
    for _, o, _, n in points:
        blocks.append([n, n * o, 1])
        while len(blocks) > 1 and blocks[-2][1] / blocks[-2][0] > blocks[-1][1] / blocks[-1][0]:
            w, s, c = blocks.pop()
            blocks[-1][0] += w
            blocks[-1][1] += s
            blocks[-1][2] += c
    return [s / w for w, s, c in blocks for _ in range(c)]


def corp(items):
    points = by_forecast(items)
    recal = pav(points)
    total = sum(n for *_, n in points)
    base = sum(n * o for _, o, _, n in points) / total

    def brier(xs):  # mean (x - o)^2 over the items: n (x^2 - 2 x mean(o) + mean(o^2)) per point
        return sum(n * (x * x - 2 * x * o + o2) for x, (_, o, o2, n) in zip(xs, points, strict=True)) / total

    s_f, s_r, s_b = brier([f for f, *_ in points]), brier(recal), brier([base] * len(points))
    return points, recal, dict(brier_0_1=s_f, corp_miscalibration=s_f - s_r, corp_discrimination=s_b - s_r,
                               corp_uncertainty=s_b)


def logistic(items):
    """(intercept, slope) of logit P(o) = a + b logit(clipped f): Newton's method with step halving, weights o, 1 - o."""
    points = [(math.log(clipped(f) / (1 - clipped(f))), o) for f, o in scored(items)]

    def loglik(a, b):
        return sum(-o * math.log1p(math.exp(-(a + b * x))) - (1 - o) * math.log1p(math.exp(a + b * x))
                   for x, o in points)

    a, b = 0.0, 1.0
    for _ in range(200):
        g0 = g1 = h00 = h01 = h11 = 0.0
        for x, o in points:
            p = 1 / (1 + math.exp(-(a + b * x)))
            r, w = o - p, p * (1 - p)
            g0, g1 = g0 + r, g1 + r * x
            h00, h01, h11 = h00 + w, h01 + w * x, h11 + w * x * x
        det = h00 * h11 - h01 * h01
        da, db = (h11 * g0 - h01 * g1) / det, (h00 * g1 - h01 * g0) / det
        step = 1.0
        while loglik(a + step * da, b + step * db) < loglik(a, b) - 1e-15 and step > 1e-6:
            step /= 2
        a, b = a + step * da, b + step * db
        if abs(da) + abs(db) < 1e-12:
            break
    return a, b


async def check(ds, items, params=None):
    params = params or {}
    [fit] = await rows(ds, "calibration_fit", **params)
    diagram = await rows(ds, "reliability", **params)
    if not scored(items):
        assert fit["n"] == 0 and fit["calibration_slope"] is None and fit["brier_0_1"] is None and diagram == []
        return fit
    points, recal, decomposition = corp(items)
    assert fit["n"] == len(scored(items)) and fit["distinct_forecasts"] == len(points)
    assert_close(fit, decomposition, str(params))
    assert fit["brier_0_1"] == pytest.approx(scores(items)["brier_0_1"], abs=1e-15)
    assert fit["corp_miscalibration"] - fit["corp_discrimination"] + fit["corp_uncertainty"] == pytest.approx(
        fit["brier_0_1"], abs=1e-15)
    assert fit["corp_miscalibration"] >= -1e-15 and fit["corp_discrimination"] >= -1e-15
    assert [(r["forecast"], r["n"]) for r in diagram] == [(f, n) for f, *_, n in points]
    for r, (_, o, _, _), x in zip(diagram, points, recal, strict=True):
        assert r["observed_frequency"] == pytest.approx(o, abs=1e-15)
        assert r["recalibrated_probability"] == pytest.approx(x, abs=1e-12)
        assert 0 <= r["consistency_band_low"] <= r["consistency_band_high"] <= 1
    for a, b in zip(diagram, diagram[1:], strict=False):  # every resampled fit is non-decreasing, so are its quantiles
        assert a["consistency_band_low"] <= b["consistency_band_low"]
        assert a["consistency_band_high"] <= b["consistency_band_high"]
    return fit


async def test_calibration_fit_and_reliability_on_the_fixture(fixture_db):
    ds = await site(fixture_db)
    items = fixture_items()
    fit = await check(ds, items)
    a, b = logistic(items)
    assert fit["calibration_intercept"] == pytest.approx(a, abs=1e-6)
    assert fit["calibration_slope"] == pytest.approx(b, abs=1e-6)
    assert fit["fit_note"] == "only 17 resolved forecasts (fewer than 20): the slope and intercept are rough"
    diagram = {r["forecast"]: r for r in await rows(ds, "reliability")}
    # a certain forecast's outcomes drawn as if calibrated are all the same: the band collapses there
    assert (diagram[0.0]["consistency_band_low"], diagram[0.0]["consistency_band_high"]) == (0.0, 0.0)
    assert (diagram[1.0]["consistency_band_low"], diagram[1.0]["consistency_band_high"]) == (1.0, 1.0)
    for params, keep in FILTERS:
        await check(ds, [i for i in items if keep(i)], params)


async def test_calibration_fit_on_the_real_corpus(corpus_db):
    ds = await site(corpus_db)
    items = [i for i in corpus_items() if i["year"] == 2025]
    fit = await check(ds, items)
    assert fit["brier_0_1"] == pytest.approx(0.216875, abs=1e-12) and fit["n"] == 12
    a, b = logistic(items)
    assert (fit["calibration_intercept"], fit["calibration_slope"]) == (pytest.approx(a, abs=1e-6),
                                                                        pytest.approx(b, abs=1e-6))
    await check(ds, [], dict(post="predictions-2026"))  # all open


async def test_bootstrap_intervals_are_seeded_and_agree_with_the_analytic_ones(fixture_db, corpus_db):
    for db_path in (fixture_db, corpus_db):
        first = await rows(await site(db_path), "calibration_fit")
        again = await rows(await site(db_path), "calibration_fit")  # a fresh site: same seed, same figures
        assert first == again
        [fit], [headline] = first, await rows(await site(db_path), "scores")
        assert fit["bootstrap_resamples"] == 1000 and isinstance(fit["bootstrap_seed"], int)
        for boot, analytic in (("brier_0_1_bootstrap", "brier_0_1_ci95"),
                               ("log_score_bits_clipped_bootstrap", "log_score_bits_clipped_ci95")):
            estimate = headline[analytic.removesuffix("_ci95")]
            assert fit[f"{boot}_low"] < estimate < fit[f"{boot}_high"]
            # the percentile bootstrap and mean +- 1.96 standard errors: close, not equal (skewed, small samples)
            width = headline[f"{analytic}_high"] - headline[f"{analytic}_low"]
            assert abs(fit[f"{boot}_low"] - headline[f"{analytic}_low"]) < 0.1 * width + 0.02
            assert abs(fit[f"{boot}_high"] - headline[f"{analytic}_high"]) < 0.1 * width + 0.02


async def test_recalibration_flags_few_forecasts_and_refuses_no_fit(tmp_path):
    """25 forecasts: no warning, and a partial resolution counts as a part hit; all true: no finite fit."""
    calls = [(p, "true" if k % 3 else "false") for k, p in enumerate([10, 20, 30, 40, 60, 70, 80, 90] * 3, 1)]
    calls.append((65, "partial"))
    lines = "".join(f"- Claim {i} (_Probability: {p}%_)\n" for i, (p, _) in enumerate(calls, 1))
    same = "".join(f"- Sure {i} (_Probability: {p}%_)\n" for i, p in enumerate([60, 70, 80], 1))
    content = write_site(tmp_path / "site", {
        "blog/p/index.md": f"---\ntitle: Predictions 2030\n---\n\n## Calls\n\n{lines}",
        "blog/q/index.md": f"---\ntitle: Predictions 2031\n---\n\n## Sure\n\n{same}"})
    (tmp_path / "res").mkdir()
    (tmp_path / "res" / "p.yml").write_text("resolutions:\n" + "".join(
        f"  p/calls/{i}:\n    outcome: {o}\n" + ("    value: 0.25\n" if o == "partial" else "")
        for i, (_, o) in enumerate(calls, 1)))
    (tmp_path / "res" / "q.yml").write_text("resolutions:\n" + "".join(
        f"  q/sure/{i}:\n    outcome: true\n" for i in (1, 2, 3)))
    ds = await site(build_db(tmp_path / "data.db", content, tmp_path / "res"))
    items = [dict(pct=float(p), outcome=o, o={"true": 1.0, "false": 0.0, "partial": 0.25}[o]) for p, o in calls]
    fit = await check(ds, items, dict(post="p"))
    a, b = logistic(items)
    assert fit["n"] == 25 and fit["fit_note"] is None
    assert (fit["calibration_intercept"], fit["calibration_slope"]) == (pytest.approx(a, abs=1e-6),
                                                                        pytest.approx(b, abs=1e-6))
    [fit] = await rows(ds, "calibration_fit", post="q")
    assert fit["calibration_slope"] is None and fit["calibration_intercept"] is None
    assert fit["fit_note"].startswith("no finite fit: every outcome is the same")


def test_forecast_stats_remembers_exactly_what_it_would_compute():
    """The aggregate keeps its answers per set of rows (plugins/forecast_stats.py): asked again, in any order of
    asking, it answers what a fresh computation of the same rows gives."""
    import json
    import sqlite3

    from test_site import load_plugin

    stats = load_plugin("forecast_stats")
    conn = sqlite3.connect(":memory:")
    stats.register(conn)
    sets = [[(0.7, 1.0, 3), (0.7, 0.0, 2), (0.2, 0.0, 4), (0.9, 1.0, 6)], [(0.9, 1.0, 5), (0.1, 1.0, 1), (0.5, 0.5, 2)]]
    for given in sets + sets + sets[::-1]:
        values = ", ".join(f"({f}, {o}, {n})" for f, o, n in given)
        [(got,)] = conn.execute(f"SELECT forecast_stats(column1, column2, column3) FROM (VALUES {values})").fetchall()
        assert got == json.dumps(stats.forecast_stats(given))
    assert stats.stats_json.cache_info().hits == 4
