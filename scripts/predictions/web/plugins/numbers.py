"""Numbers on HTML pages rounded for reading; JSON and CSV keep the exact values (render_cell is HTML only).

A float with at most four decimals as stored (a stated 99.5, a probability 0.995, a partial value 0.25) is shown
as it is: it was written that way. Anything longer is a computed value (0.13249999999999995, a Brier score, a
Wilson bound): three significant digits. The exact value is one click away, in the page's JSON and CSV.
"""

import math

from datasette import hookimpl

SIGNIFICANT = 3
MAX_DECIMALS = 4


def readable(x):
    """The text a person reads for the float x."""
    if x == int(x) and abs(x) < 1e15:
        return f"{int(x)}"
    exact = repr(x)
    if "e" not in exact and len(exact.split(".")[1]) <= MAX_DECIMALS:
        return exact
    if abs(x) >= 10 ** SIGNIFICANT:
        return f"{x:.0f}"
    text = f"{x:.{SIGNIFICANT}g}"
    if "e" not in text and len(text.split(".")[-1]) > MAX_DECIMALS:  # 0.000625: 6.25e-04 reads better
        return f"{x:.{SIGNIFICANT - 1}e}"
    return text


@hookimpl
def render_cell(value):
    if not isinstance(value, float) or not math.isfinite(value):
        return None
    text = readable(value)
    return None if text == repr(value) else text
