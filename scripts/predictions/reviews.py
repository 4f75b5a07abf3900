"""Verdicts read from an author's review post, matched to the predictions they grade.

A review post links the forecast post it grades (a Hugo ``{{< ref "/blog/slug" >}}`` or a plain link to
the post's URL) and states verdicts in two forms:
- a heading ``Verdict: Correct ✅`` under a section restating ``**Prediction:** ...`` and
  ``**Probability:** 75%``; the explanation runs to the next heading;
- a list item ``- **claim (70%):** _Correct_ ✅`` whose explanation follows on the item's next lines.
✅ means the statement happened (true), ❌ that it did not (false), ⚠️ or TBD that it is still open.
"""

import difflib
import re
from collections import Counter
from dataclasses import dataclass, field

from . import markdown as md
from .markers import find_markers, read_value

REF = re.compile(r"""\{\{[<%]\s*(?:rel)?ref\s+"?(?P<path>[^"\s>%]+)"?\s*[>%]\}\}""")
VERDICT_HEADING = re.compile(r"^Verdict\s*:\s*(?P<words>.+)$", re.IGNORECASE)
VERDICT_ITEM = re.compile(
    r"^\*\*(?P<claim>.+?)(?:(?<=\S)\s*+|(?<!\S))\((?P<p>[^()]*?(?:%|50/50))\)\s*+:?\s*+\*\*\s*+:?\s*+"
    r"(?P<verdict>[^\n]*?)\\?$", re.MULTILINE
)
LINK_TARGET = re.compile(r"\]\([^)\n]*+\)")
RESTATED = re.compile(r"\*\*Prediction:?\*\*:?\s*(?P<text>.+?)\\?$", re.MULTILINE)
HINT = re.compile(r"^#+\s*Verdict\s*:|^[^\S\n]*[-*+]\s+\*\*.+\(\s*[\d.]+\s*%\s*\)\s*:?\*\*", re.MULTILINE | re.IGNORECASE)
EMOJI = {"✅": "true", "✔": "true", "❌": "false", "✖": "false", "⚠": "open", "⏳": "open", "❓": "open"}
WORDS = {
    "correct": "true", "right": "true", "yes": "true", "true": "true",
    "miss": "false", "wrong": "false", "incorrect": "false", "no": "false", "false": "false",
    "tbd": "open", "pending": "open", "open": "open",
    "void": "void", "n/a": "void", "ambiguous": "ambiguous", "unclear": "ambiguous",
}
MIN_SIMILARITY = 0.35
MARGIN = 0.1


@dataclass(slots=True)
class Verdict:
    line: int
    words: str  # the verdict as worded, e.g. "Both (Sort of) ✅"
    outcome: str
    claim: str  # the restated prediction
    percent: object  # Decimal or None
    section_title: str | None
    anchor: str
    note: str
    evidence: list = field(default_factory=list)  # (url, title)


def looks_like_review(body):
    return bool(HINT.search(body))


def linked_paths(body, base_url, hrefs):
    """Post URL paths ("blog/slug/") the body links to, in order: Hugo refs first, then plain links."""
    paths = [normalise(m["path"]) for m in REF.finditer(body)]
    for href in hrefs:
        if href.startswith(base_url):
            paths.append(normalise(href[len(base_url) :]))
        elif href.startswith("/"):
            paths.append(normalise(href))
    return [p for p in paths if p]


def normalise(path):
    path = path.split("#")[0].strip("/")
    for suffix in ("/index.md", "/_index.md", ".md"):
        path = path.removesuffix(suffix)
    return path + "/" if path else ""


def outcome_of(words):
    for mark, outcome in EMOJI.items():
        if mark in words:
            return outcome
    plain = re.sub(r"[_*`]", "", words).strip().lower()
    for word, outcome in WORDS.items():
        if plain.startswith(word):
            return outcome
    return None


def clean_words(words):
    return re.sub(r"\s+", " ", re.sub(r"[_*\\]", "", words)).strip()


def read_verdicts(tokens, sections, body_line, rel_path, report):
    """Every verdict in a review post's tokens; sections are the post's sections in heading order."""
    verdicts, heads, n_heading = [], [], 0
    i = 0
    while i < len(tokens):
        t = tokens[i]
        if t.type == "heading_open" and t.level == 0:  # the sections: headings nested in a list or quote are not
            section = sections[n_heading]
            n_heading += 1
            heads.append(section)
            if m := VERDICT_HEADING.match(section.title):
                v = heading_verdict(tokens, i, section, heads, m["words"], body_line, rel_path, report)
                if v:
                    verdicts.append(v)
        elif t.type == "list_item_open":
            inline = next((x for x in tokens[i:] if x.type == "inline"), None)
            if inline and (m := VERDICT_ITEM.match(inline.content)):
                v = item_verdict(tokens, i, inline, m, heads[-1] if heads else None, body_line, rel_path, report)
                if v:
                    verdicts.append(v)
        i += 1
    return verdicts


def heading_verdict(tokens, i, section, heads, words, body_line, rel_path, report):
    graded = next((h for h in reversed(heads[:-1]) if h.level < section.level), None)
    start = next((k for k, t in enumerate(tokens) if t.type == "heading_open" and graded and
                  body_line + t.map[0] == graded.line), 0)
    restated = "\n".join(t.content for t in tokens[start:i] if t.type == "inline")
    claim = m["text"] if (m := RESTATED.search(restated)) else (graded.title if graded else "")
    markers = find_markers(restated)
    percent = markers[0].percent if markers else None
    explanation, j = [], i + 3
    while j < len(tokens) and tokens[j].type != "heading_open":
        if tokens[j].type == "inline" and tokens[j].map:
            explanation.append(tokens[j])
        j += 1
    return make(section.line, words, claim, percent, graded.title if graded else None, section.anchor,
                explanation, rel_path, report)


def item_verdict(tokens, i, inline, m, section, body_line, rel_path, report):
    percent, _ = read_value(m["p"])
    rest = [inline.content[m.end() :]]
    end = md.close_of(tokens, i)
    j = i + 1
    while j < end:
        t = tokens[j]
        if t.type in ("bullet_list_open", "ordered_list_open"):
            j = md.close_of(tokens, j)
        elif t.type == "inline" and t is not inline:
            rest.append(t)
        j += 1
    claim = re.sub(r"^[.…\s]+", "", m["claim"])
    return make(body_line + inline.map[0], m["verdict"], claim, percent, section.title if section else None,
                section.anchor if section else "", rest, rel_path, report)


def claim_text(claim):
    """A restated claim as matching sees it: only its words count (see words()), so link targets and footnote
    marks are dropped and the rest left as written, without a second Markdown parse."""
    return md.SPACES.sub(" ", LINK_TARGET.sub("]", md.FOOTNOTE_CITE.sub("", claim))).strip()


def make(line, words, claim, percent, section_title, anchor, explanation, rel_path, report):
    outcome = outcome_of(words)
    if outcome is None:
        report.error(rel_path, line, f"cannot read verdict {clean_words(words)!r}: end it with ✅ (happened), "
                     "❌ (did not) or ⚠️ (still open), or use Correct / Miss / TBD")
        return None
    note, links = md.digest(*explanation)
    evidence = [(href, title) for href, title in links if href.startswith(("http://", "https://"))]
    return Verdict(line, clean_words(words), outcome, claim_text(claim), percent, section_title, anchor, note, evidence)


def ratio(a, b):
    return difflib.SequenceMatcher(None, words(a), words(b), autojunk=False).ratio()


def similarity(claim, text):
    """How well a restated claim matches a prediction's text, 0..1: their word-sequence ratio, or how much of
    the claim appears in order in the text (a short restatement of a long passage), slightly discounted."""
    return word_similarity(words(claim), words(text))


def word_similarity(a, b):
    m = difflib.SequenceMatcher(None, a, b, autojunk=False)
    contained = sum(block.size for block in m.get_matching_blocks()) / len(a) if a else 0.0
    return max(m.ratio(), 0.9 * contained)


def common(a, b):
    """How many words two word lists share, counted with repeats: no alignment (difflib's) matches more."""
    counts = Counter(b)
    return sum(min(n, counts[w]) for w, n in Counter(a).items() if w in counts)


def ratio_bound(shared, a, b):
    """The most SequenceMatcher.ratio() of word lists of these lengths sharing `shared` words can be."""
    return 2.0 * shared / (a + b) if a + b else 1.0


def words(text):
    return re.findall(r"[a-z0-9]+", text.lower())


def match(verdicts, predictions, rel_path, report):
    """{prediction id: verdict}; verdicts that match none or several are errors, uncovered ones warnings."""
    matched, taken = {}, {}
    by_id = {p.id: p for p in predictions}
    texts = {}  # text -> its words, once per review
    for v in verdicts:
        candidates = [p for p in predictions if v.percent is None or p.stated_percent == v.percent]
        scored = ranked(v, words(v.claim), candidates, by_id, texts)
        if not scored or scored[0][0] < MIN_SIMILARITY:
            report.error(rel_path, v.line, f"verdict {v.words!r} on {v.claim[:60]!r} ({fmt(v.percent)}) matches "
                         "no prediction of the graded post: restate the prediction's words and probability")
            continue
        claim = words(v.claim)
        exact = [p for p in candidates if claim == words_of(p.text, texts)]
        if len(exact) == 1:
            scored = [(2.0, exact[0])]
        if len(scored) > 1 and scored[0][0] - scored[1][0] < MARGIN:
            ids = ", ".join(p.id for _, p in scored[:3])
            report.error(rel_path, v.line, f"verdict {v.words!r} on {v.claim[:60]!r} matches more than one "
                         f"prediction ({ids}): restate the prediction in its own words")
            continue
        best = scored[0][1]
        if best.id in taken:
            report.error(rel_path, v.line, f"verdict grades {best.id}, already graded at line {taken[best.id]}")
            continue
        taken[best.id] = v.line
        matched[best.id] = v
    return matched


def ranked(v, claim, candidates, by_id, texts):
    """[(score, prediction)] of the candidates, best first (ties in the candidates' order): at least the top
    three, and every candidate that could score as high as the third. A candidate's score is bounded from the
    words it shares with the claim, counted (no alignment matches more); difflib runs only where that bound
    still reaches the best three, so the answer is the one scoring every candidate gives."""
    bounded = []
    for i, p in enumerate(candidates):
        text, chain = words_of(p.text, texts), chained(p, by_id)
        shared = common(claim, text)
        bound = max(ratio_bound(shared, len(claim), len(text)), 0.9 * shared / len(claim) if claim else 0.0)
        if len(chain) > 1:
            joined = words_of(" ".join(chain), texts)
            bound = max(bound, ratio_bound(common(claim, joined), len(claim), len(joined)))
        bounded.append((bound + bonus(v, p), i, p, text, chain))
    bounded.sort(key=lambda x: (-x[0], x[1]))
    scored = []
    for bound, i, p, text, chain in bounded:
        if len(scored) >= 3 and bound < sorted(s for s, _, _ in scored)[-3] - 1e-9:
            break
        s = max(word_similarity(claim, text), ratio_words(claim, words_of(" ".join(chain), texts)) if len(chain) > 1
                else 0)
        scored.append((s + bonus(v, p), i, p))
    return [(s, p) for s, _, p in sorted(scored, key=lambda x: (-x[0], x[1]))]


def words_of(text, texts):
    found = texts.get(text)
    if found is None:
        found = texts[text] = words(text)
    return found


def ratio_words(a, b):
    return difflib.SequenceMatcher(None, a, b, autojunk=False).ratio()


def chained(p, by_id):
    """The texts of the predictions p depends on, then its own: a review often restates a two-marker list item
    whole ("A (100%), but B (70%)" becomes "A but B (70%)")."""
    chain, q = [p.text], p
    while q.depends_on_id and q.depends_on_id in by_id:
        q = by_id[q.depends_on_id]
        chain.insert(0, q.text)
    return chain


def bonus(v, p):
    """A lift when the section headings agree."""
    return 0.5 if v.section_title and p.section and p.section.title.strip().lower() == v.section_title.strip().lower() \
        else 0


def fmt(percent):
    return "no probability" if percent is None else f"{percent}%"
