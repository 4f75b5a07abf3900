"""The probability-marker grammar.

A marker is the word ``Probability`` (capital P) followed by a colon and a value, optionally wrapped in
emphasis and parentheses::

    _Probability: 90%_        **Probability:** 70%        (_Probability: 75%_)
    Probability: 0.7          _Probability: 50/50_        _Probability: 70 %_

The value is a percent (``15%``, ``99.5%``, ``70 %``), a decimal in [0, 1] (``0.7``), or ``50/50``.
A list item may also close with a bare percent in parentheses, ``(70%)``; that form counts only in a post
that uses the full marker elsewhere or sets ``forecasts: true`` in its front matter, because ordinary
articles end list items with ``(85%)`` statistics.
"""

import re
from dataclasses import dataclass
from decimal import Decimal

MARKER = re.compile(
    r"(?P<open>\(\s*+)?"
    r"(?P<em>[_*]{1,3})?"
    r"(?P<word>(?<![A-Za-z0-9])Probability)[_*]{0,3}\s*+:(?:\s*+(?!\()|\s*(?=\n))[_*]{0,3}[ \t]*+"
    r"(?P<value>(?:[^\n_*()P]|P(?!robability))*+)"  # possessive, and never across another marker: linear time
    r"(?:[_*]{1,3}|$|(?=[)\n]|Probability))"
    r"(?:[ \t]*(?P<close>\)))?",
    re.MULTILINE,
)
BARE = re.compile(r"\(\s*(?P<value>\d+(?:\.\d+)?\s*%)\s*\)\s*+[.,;:!]?\s*+$")
PERCENT = re.compile(r"^(?P<num>-?\d+(?:\.\d+)?)\s*%$")
DECIMAL = re.compile(r"^(?:0?\.\d+|[01](?:\.\d+)?)$")
HELP = "write it as a percent (70%), a decimal between 0 and 1 (0.7) or 50/50"


@dataclass(frozen=True, slots=True)
class Marker:
    start: int  # offset in the text where the marker (with its parentheses) begins
    end: int
    text: str  # the value as written, e.g. "75%" or "50/50"
    percent: Decimal | None  # None when the value cannot be read
    error: str | None


def read_value(raw):
    """Return (percent, error) for a marker value as written."""
    value = raw.strip().rstrip(".,;:")
    if value == "50/50":
        return Decimal(50), None
    if m := PERCENT.match(value):
        percent = Decimal(m["num"])
    elif DECIMAL.match(value):
        percent = Decimal(value) * 100
    elif not value:
        return None, f"probability marker has no value: {HELP}"
    else:
        return None, f"cannot read probability {value!r}: {HELP}"
    if percent < 0:
        return None, f"probability {value!r} is negative: {HELP}"
    if percent > 100:
        return None, f"probability {value!r} is above 100%: {HELP}"
    if percent == percent.to_integral_value():
        return Decimal(int(percent)), None
    return percent.normalize(), None


def find_markers(text, bare=False):
    """All markers in a block's Markdown source, in order; with bare=True also a closing ``(70%)``."""
    found = []
    for m in MARKER.finditer(text):
        paren = bool(m["open"] and m["close"])
        start = m.start() if paren else m.start("em") if m["em"] else m.start("word")
        end = m.end() if paren or not m["close"] else m.start("close")
        percent, error = read_value(m["value"])
        found.append(Marker(start, end, m["value"].strip(), percent, error))
    if bare and not found and (m := BARE.search(text)):
        percent, error = read_value(m["value"])
        found.append(Marker(m.start(), m.end(), m["value"].replace(" ", ""), percent, error))
    return found
