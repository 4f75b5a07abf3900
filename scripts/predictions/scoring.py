"""Scores of probability forecasts: per-forecast terms, and the fits that need every forecast at once.

f is the stated probability that the statement as written comes true, o the outcome value (1 true, 0 false,
r in [0, 1] for a partial resolution). The definitions are in docs/scoring.md.

``score_terms`` is what one resolved forecast adds to each sum of the ``score_sums`` table (the scores the
canned queries compute in SQL are ratios of those sums). What SQL cannot do (the logistic recalibration, the
CORP reliability diagram, bootstrap intervals) is the SQL aggregate of the site's plugin
web/plugins/forecast_stats.py, which stands alone so that a published site runs it without this package.
"""

import math
from statistics import NormalDist

CLIP = (0.001, 0.999)  # as Metaculus: log scores and the recalibration fit use forecasts clipped to [0.1%, 99.9%]
Z95 = NormalDist().inv_cdf(0.975)  # 1.959963984540054
HORIZONS = (0, 31, 91, 181, 366)  # horizon buckets in days from the post's date to the resolution date


def clip(f):
    return min(max(f, CLIP[0]), CLIP[1])


def log_bits(f, o):
    """log2(probability given to what happened) + 1, partial outcomes weighted; None for a certain miss."""
    if (f == 1 and o < 1) or (f == 0 and o > 0):
        return None
    return 1 + (o * math.log2(f) if o > 0 else 0) + ((1 - o) * math.log2(1 - f) if o < 1 else 0)


def score_terms(f, o):
    """What one resolved prediction adds to each sum of score_sums (the expressions of the `scores` query)."""
    c = clip(f)
    folded = f < 0.5
    bits = log_bits(c, o)
    terms = dict(
        squared_errors=(f - o) * (f - o), squared_errors_squared=(f - o) ** 4,
        log_score_bits_clipped=bits, log_score_bits_clipped_squared=bits * bits,
        sum_probability=f, sum_value=o, sum_value_squared=o * o, sum_probability_value=f * o,
        sum_sharpness=abs(f - 0.5), sum_folded_probability=1 - f if folded else f,
        sum_folded_value=1 - o if folded else o,
        z_numerator=(o - c) * (1 - 2 * c), z_variance=(1 - 2 * c) * (1 - 2 * c) * c * (1 - c),
    )
    unclipped = log_bits(f, o)
    if unclipped is not None:  # a certain miss scores minus infinity: counted apart (certain_misses)
        terms["log_score_bits"] = unclipped
    return terms


def quarter(day):
    return f"{day.year}-Q{(day.month - 1) // 3 + 1}" if day else None


def horizon_bucket(posted, resolved):
    """The lower bound (days) of the horizon bucket of a forecast posted and resolved on these dates."""
    if posted is None or resolved is None:
        return None
    days = (resolved - posted).days
    return max(h for h in HORIZONS if h <= max(days, 0))


# ---------------------------------------------------------------- fits over all the forecasts of a query
