"""The SQL aggregate forecast_stats(probability, value, n): the figures SQL cannot compute.

The logistic recalibration (slope and intercept), the CORP reliability diagram and its decomposition
(Dimitriadis, Gneiting and Jordan 2021, PAV by scipy) with a consistency band, and bootstrap intervals. The
canned queries calibration_fit and reliability feed it one row per distinct (probability, value) of the resolved
predictions the filters keep, with its count, and unpack its JSON with json_extract / json_each. Definitions:
docs/scoring.md. This file stands alone (numpy and scipy only) so that a published site runs it without the
predictions package; CLIP and Z95 are the same as predictions.scoring's (a test checks).
"""

import json
from functools import lru_cache
from statistics import NormalDist

import numpy as np
from datasette import hookimpl
from scipy.optimize import isotonic_regression, minimize

CLIP = (0.001, 0.999)  # as Metaculus: the recalibration fit uses forecasts clipped to [0.1%, 99.9%]
Z95 = NormalDist().inv_cdf(0.975)  # 1.959963984540054
SEED = 20211  # the bootstrap and the consistency band are seeded: the same forecasts give the same figures
RESAMPLES = 1000
FEW = 20  # below this many resolved forecasts the recalibration fit is flagged as rough


def clip(f):
    return min(max(f, CLIP[0]), CLIP[1])


def recalibration(f, o, n):
    """(intercept, slope) of the logistic recalibration logit P(o) = a + b logit(f), forecasts clipped.

    Maximum likelihood with weights (a partial outcome r counts r as a hit and 1 - r as a miss); None when no
    finite fit exists (every outcome the same, one distinct forecast, or outcomes separated by the forecasts)."""
    x = np.log(f / (1 - f))
    hits, misses = n * o, n * (1 - o)
    if hits.sum() == 0 or misses.sum() == 0 or np.unique(x).size < 2:
        return None

    def loss(ab):
        eta = ab[0] + ab[1] * x
        return float(np.sum(hits * np.logaddexp(0, -eta) + misses * np.logaddexp(0, eta)))

    def grad(ab):
        p = 1 / (1 + np.exp(-(ab[0] + ab[1] * x)))
        r = n * p - hits
        return np.array([r.sum(), (r * x).sum()])

    def hess(ab):
        p = 1 / (1 + np.exp(-(ab[0] + ab[1] * x)))
        w = n * p * (1 - p)
        return np.array([[w.sum(), (w * x).sum()], [(w * x).sum(), (w * x * x).sum()]])

    fit = minimize(loss, np.array([0.0, 1.0]), jac=grad, hess=hess, method="trust-exact", options=dict(gtol=1e-12))
    a, b = fit.x
    # diverging (outcomes separable by the forecasts) or not at a stationary point: no finite fit
    if abs(b) > 100 or abs(a) > 100 or np.abs(grad(fit.x)).max() > 1e-7 * n.sum():
        return None
    return float(a), float(b)


def pav(f, o, n):
    """The isotonic (PAV) recalibration at each distinct forecast (f sorted ascending, o the mean outcome)."""
    return isotonic_regression(o, weights=n, increasing=True).x


def corp(f, o, o2, n, rng):
    """CORP reliability (Dimitriadis, Gneiting and Jordan 2021) of the Brier score.

    f: distinct forecasts ascending, o: mean outcome at each, o2: mean squared outcome, n: counts. Returns the
    recalibrated values, the 90% consistency band (outcomes drawn as Bernoulli(f), recalibrated again) and the
    decomposition Brier = MCB - DSC + UNC, each term a Brier score: of f, of the recalibrated forecasts, of
    the base rate."""
    N = n.sum()
    recal = pav(f, o, n)
    base = float((n * o).sum() / N)

    def brier(x):  # mean (x - o)^2 over the items, from the per-forecast mean outcome and mean squared outcome
        return float((n * (x * x - 2 * x * o + o2)).sum() / N)

    s_f, s_recal, s_base = brier(f), brier(recal), brier(np.full_like(f, base))
    draws = rng.binomial(n.astype(np.int64)[None, :], f[None, :], size=(RESAMPLES, f.size)) / n
    band = np.array([pav(f, d, n) for d in draws])
    low, high = np.quantile(band, [0.05, 0.95], axis=0)
    return dict(recalibrated=recal, band_low=low, band_high=high, brier=s_f, miscalibration=s_f - s_recal,
                discrimination=s_base - s_recal, uncertainty=s_base)


def bootstrap(f, o, n, rng):
    """Percentile 95% intervals of the mean Brier score and clipped log score: forecasts resampled with
    replacement (multinomial counts over the distinct (f, o) pairs), RESAMPLES times."""
    N = int(n.sum())
    squared = (f - o) ** 2
    c = np.clip(f, *CLIP)
    bits = 1 + o * np.log2(c) + (1 - o) * np.log2(1 - c)
    counts = rng.multinomial(N, n / N, size=RESAMPLES)
    out = {}
    for name, x in (("brier", squared), ("log", bits)):
        means = counts @ x / N
        out[name] = tuple(float(v) for v in np.quantile(means, [0.025, 0.975]))
    return out


def forecast_stats(rows):
    """Every figure of the forecast_stats aggregate, from rows (f, o, n): a dict, JSON-ready."""
    rows = [(float(f), float(o), int(k)) for f, o, k in rows if f is not None and o is not None and k]
    if not rows:
        return dict(n=0)
    f, o, n = (np.array(c, dtype=float) for c in zip(*rows, strict=True))
    N = int(n.sum())
    rng = np.random.default_rng(SEED)
    out = dict(n=N, distinct_forecasts=int(np.unique(f).size), seed=SEED, resamples=RESAMPLES)
    fit = recalibration(np.clip(f, *CLIP), o, n)
    out["intercept"], out["slope"] = fit if fit else (None, None)
    out["fit_note"] = fit_note(N, fit)
    intervals = bootstrap(f, o, n, rng)
    out["brier_ci"], out["log_ci"] = intervals["brier"], intervals["log"]
    # per distinct forecast: count, mean outcome, mean squared outcome
    keys = np.unique(f)
    idx = np.searchsorted(keys, f)
    nk = np.bincount(idx, weights=n)
    ok = np.bincount(idx, weights=n * o) / nk
    o2k = np.bincount(idx, weights=n * o * o) / nk
    c = corp(keys, ok, o2k, nk, rng)
    out["corp"] = {k: v for k, v in c.items() if not isinstance(v, np.ndarray)}
    out["points"] = [dict(forecast=float(keys[i]), n=int(nk[i]), observed=float(ok[i]),
                          recalibrated=float(c["recalibrated"][i]), band_low=float(c["band_low"][i]),
                          band_high=float(c["band_high"][i])) for i in range(keys.size)]
    return out


def fit_note(n, fit):
    if fit is None:
        return ("no finite fit: every outcome is the same, all forecasts are equal, or the forecasts separate "
                "the outcomes perfectly")
    if n < FEW:
        return f"only {n} resolved forecasts (fewer than {FEW}): the slope and intercept are rough"
    return None


class ForecastStats:
    """SQLite aggregate forecast_stats(probability, value, n) -> JSON of forecast_stats(), rows with NULL skipped."""

    def __init__(self):
        self.rows = []

    def step(self, f, o, n):
        self.rows.append((f, o, n))

    def finalize(self):
        return stats_json(tuple(self.rows))


@lru_cache(maxsize=256)
def stats_json(rows):
    """forecast_stats(rows) as JSON, remembered: the database is immutable and the figures seeded, so the same rows
    (in the same order) always give the same text, and the bootstrap and the band (2,000 resamples, 10-20 ms)
    run once per set of filters instead of on every request."""
    return json.dumps(forecast_stats(rows))


def register(conn):
    conn.create_aggregate("forecast_stats", 3, ForecastStats)


@hookimpl
def prepare_connection(conn):
    register(conn)
