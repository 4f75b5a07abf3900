"""Follow each forecast of a post through the post's published versions, and say what changed between them.

Which forecast of one version is which of the next: the same id and a similar statement (ids come from the
post and the section, so most match this way), else the most similar statement (a renamed section changes
the id, not the statement), else the same id (a statement rewritten in place). Similarity is difflib's ratio
over the statements' words. A statement change is of substance when its words changed; re-wrapped lines, a
moved footnote marker, a shortcode turned into an admonition or changed punctuation, quotes or case leave
the words as they were: a formatting change.
"""

import difflib
import re
import unicodedata
from dataclasses import dataclass, field
from functools import lru_cache
from typing import NamedTuple

SAME_ID_SIMILAR = 0.5  # an id shared by two statements this alike is the same forecast
SIMILAR = 0.6  # two statements this alike (with different ids) are the same forecast
WORD = re.compile(r"[^\W_]+(?:[.,'][^\W_]+)*%?")
APOSTROPHES = str.maketrans({"\u2019": "'", "\u2018": "'", "\u02bc": "'"})


class Forecast(NamedTuple):
    """A forecast as one version of a post states it (a tuple: cached by the thousand, unpickled fast)."""

    id: str
    text: str  # plain text (whitespace collapsed, footnote marks and emphasis dropped)
    markdown: str  # the passage as written
    probability_text: str
    percent: float
    kind: str


@dataclass(frozen=True, slots=True)
class Change:
    version: int  # the index of the version that shows the change
    kind: str  # added (not in the first published version), removed, probability, statement, id
    old: Forecast | None
    new: Forecast | None

    @property
    def formatting_only(self):
        """For a statement change: True when the words are the same (re-wrapped, re-punctuated, re-marked up)."""
        return words(self.old.text) == words(self.new.text) if self.kind == "statement" else None


@dataclass(slots=True)
class Line:
    """One forecast through the versions: where it was first published, as what, and each change since."""

    first: int  # the index of the version that first published it
    published: Forecast  # as first published
    last: Forecast  # as the latest version states it
    changes: list = field(default_factory=list)


@lru_cache(maxsize=65536)
def words(text):
    """The statement's words, case-folded: what a change of substance changes."""
    return tuple(WORD.findall(unicodedata.normalize("NFKC", text).translate(APOSTROPHES).casefold()))


def similarity(a, b):
    if a.text == b.text:
        return 1.0
    return difflib.SequenceMatcher(None, words(a.text), words(b.text), autojunk=False).ratio()


def match(old, new):
    """[(i, j), ...]: forecast old[i] is forecast new[j] (see the module's docstring)."""
    pairs, used_old, used_new = [], set(), set()

    def pair(i, j):
        pairs.append((i, j))
        used_old.add(i)
        used_new.add(j)

    by_id = {f.id: j for j, f in enumerate(new)}
    for i, f in enumerate(old):
        j = by_id.get(f.id)
        if j is not None and similarity(f, new[j]) >= SAME_ID_SIMILAR:
            pair(i, j)
    if len(used_old) < len(old) and len(used_new) < len(new):
        scored = sorted((-similarity(old[i], new[j]), i, j) for i in range(len(old)) if i not in used_old
                        for j in range(len(new)) if j not in used_new)
        for minus, i, j in scored:
            if -minus < SIMILAR:
                break
            if i not in used_old and j not in used_new:
                pair(i, j)
        for i, f in enumerate(old):
            j = by_id.get(f.id)
            if i not in used_old and j is not None and j not in used_new:
                pair(i, j)
    return sorted(pairs, key=lambda p: p[1])


def passage(f):
    """The passage as written without its probability (which the statement grammar keeps in it)."""
    return f.markdown.replace(f.probability_text, "") if f.probability_text else f.markdown


def differences(version, old, new):
    """The changes from forecast old to forecast new, the same forecast in the next version."""
    found = []
    if old.percent != new.percent:
        found.append(Change(version, "probability", old, new))
    if old.text != new.text or passage(old) != passage(new):
        found.append(Change(version, "statement", old, new))
    if old.id != new.id:
        found.append(Change(version, "id", old, new))
    return found


def follow(versions):
    """(lines, removed) over the published versions [(index, [Forecast, ...]), ...] oldest first: lines is aligned
    with the last version's forecasts; removed holds the lines that ended before it."""
    lines, removed, previous = [], [], []
    for n, (index, forecasts) in enumerate(versions):
        now = [None] * len(forecasts)
        pairs = match(previous, forecasts) if n else []
        for i, j in pairs:
            line = lines[i]
            line.changes += differences(index, line.last, forecasts[j])
            line.last, now[j] = forecasts[j], line
        for i in sorted(set(range(len(previous))) - {i for i, _ in pairs}):
            lines[i].changes.append(Change(index, "removed", previous[i], None))
            removed.append(lines[i])
        for j, f in enumerate(forecasts):
            if now[j] is None:
                now[j] = Line(index, f, f, [Change(index, "added", None, f)] if n else [])
        lines, previous = now, forecasts
    return lines, removed
