"""Review posts named by a source's ``reviews`` globs: each graded item, its mark, and the forecast it grades.

A graded item is a list item or table row of the review that restates a forecast (the statements.py grammar)
outside a blockquote, or a heading ``Prediction #N: short title, 95%`` whose section holds a ``Verdict:``
paragraph. Its mark is looked for, in this order: in what follows the probability on the item's line
("(did not happen)", "(✓ True)"), in its other paragraphs and nested items ("- **Yup.**"), where the first
mark found wins ("Nope with a side of WTF" is Nope); then in the markup of the statement itself
(strikethrough, bold, italic); then ``plain`` if the source names it. A mark the source's ``marks`` does not
name is an error at the item's line.
"""

import re
from dataclasses import dataclass

from . import markdown as md
from . import reviews, statements
from .extract import extract
from .styles import MARKUPS, outcome

NUNJUCKS_URL = re.compile(r"""\{\{\s*['"](?P<path>[^'"\s]+)['"]\s*\|\s*url\s*\}\}""")
VERDICT_PARAGRAPH = re.compile(r"^\W*(?:Verdict|Outcome|Result)\W*", re.IGNORECASE)


@dataclass(slots=True)
class Review:
    """What a review post says on its own: its extraction (sections, references), linked paths, graded items."""

    extraction: object
    paths: list
    verdicts: list  # reviews.Verdict
    numbers: dict  # index in verdicts -> N of "Prediction #N" (an index, not an id(): a Review is pickled)


def read(post, post_id, base_url, style, report):
    extraction, tokens = extract(post_id, post.shown, post.body, post.body_line, report, scan=False)
    sections = extraction.sections
    verdicts, numbers = [], {}
    for item in statements.items(tokens, post.body, post.body_line):
        st = statements.parse(item) if not item.quoted else None
        if st is None:
            continue
        section = sections[item.section - 1] if item.section else None
        mark, note = find_mark(item, st, style)
        v = verdict(item.line, mark, note, statements.full_text(item, st), st.percent, section, style, item.links,
                    post.shown, report)
        if v:
            verdicts.append(v)
    for v, n in heading_verdicts(tokens, sections, post, style, report):
        if n is not None:
            numbers[len(verdicts)] = n
        verdicts.append(v)
    hrefs = [r.url for r in extraction.references if r.kind == "inline"]
    paths = reviews.linked_paths(post.body, base_url, hrefs)
    paths += [reviews.normalise(m["path"]) for m in NUNJUCKS_URL.finditer(post.body)]
    return Review(extraction, [p for p in paths if p], verdicts, numbers)


def verdict(line, mark, note, claim, percent, section, style, links, shown, report):
    if mark is None:
        known = ", ".join(repr(k) for k in style.marks)
        report.error(shown, line, f"graded item {claim[:60]!r} ({percent}%) carries none of this source's marks "
                     f"({known}): add the mark used here to `marks` in predictions.toml, or resolve it in a "
                     "resolution file")
        return None
    evidence = [(href, title) for href, title in links if href.startswith(("http://", "https://"))]
    return reviews.Verdict(line, mark, outcome(style.marks[mark], percent), claim, percent,
                           section.title if section else None, section.anchor if section else "", note, evidence)


def find_mark(item, st, style):
    """(mark, the text it was found in) of a graded item, or (None, text) when it carries no known mark."""
    texts = [st.rest, *item.notes]
    for child in item.children:
        if not statements.parse(child):
            texts += [child.text, *child.notes]
    for text in texts:
        if mark := first_word(text, style.words):
            return mark, statements.clean(text)
    for markup in MARKUPS[:3]:
        if markup in st.markups and markup in style.marks:
            return markup, None
    if "plain" in style.marks and not st.markups:
        return "plain", None
    return None, next((statements.clean(t) for t in texts if t and t.strip()), None)


def first_word(text, words):
    """The mark that occurs first in the text (the longest at the same place), or None."""
    best = None
    for word in words:
        pattern = (r"(?<!\w)" if word[:1].isalnum() else "") + re.escape(word) + (r"(?!\w)" if word[-1:].isalnum() else "")
        if m := re.search(pattern, text or ""):
            key = (m.start(), -len(word))
            if best is None or key < best[0]:
                best = (key, word)
    return best[1] if best else None


def heading_verdicts(tokens, sections, post, style, report):
    """(verdict, N or None) of each ``Prediction #N: title, 95%`` heading with a Verdict paragraph below it."""
    n_heading, current, paragraphs = 0, None, []
    out = []

    def close():
        if current is None:
            return
        section, m = current
        para = next((p for p in paragraphs if VERDICT_PARAGRAPH.match(p)), None)
        text = VERDICT_PARAGRAPH.sub("", para) if para else ""
        mark = first_word(text, style.words)
        if para is None:
            report.error(post.shown, section.line, f"graded heading {section.title!r} has no `Verdict:` paragraph "
                         "below it: add one with the mark, or resolve it in a resolution file")
            return
        v = verdict(section.line, mark, text.strip() or None, m["statement"], statements.parse_percent(m), section,
                    style, [], post.shown, report)
        if v:
            out.append((v, int(m["n"]) if m["n"] else None))

    for t, nxt in zip(tokens, tokens[1:], strict=False):
        if t.type == "heading_open" and t.level == 0:
            close()
            section = sections[n_heading]
            n_heading += 1
            m = statements.HEADING_FORM.match(section.title) if len(section.title) <= statements.MAX_HEADING else None
            current, paragraphs = ((section, m) if m else None), []
        elif t.type == "paragraph_open" and nxt.type == "inline":
            paragraphs.append(md.inline_text(nxt.children).strip())
    close()
    return out


def match(review, predictions, shown, report):
    """{prediction id: verdict}: numbered headings by position, the rest by their restated words."""
    matched, numbered = {}, []
    for i, v in enumerate(review.verdicts):
        n = review.numbers.get(i)
        if n is None:
            continue
        numbered.append(v)
        p = predictions[n - 1] if 0 < n <= len(predictions) else None
        if p is None or p.stated_percent != v.percent:
            report.error(shown, v.line, f"Prediction #{n} ({v.percent}%) is not the graded post's forecast #{n}"
                         + (f" ({p.probability_text})" if p else f" (it has {len(predictions)})")
                         + ": fix the number or the probability")
            continue
        matched[p.id] = v
    rest = reviews.match([v for i, v in enumerate(review.verdicts) if i not in review.numbers], predictions, shown, report)
    for pid, v in rest.items():
        if pid in matched:
            report.error(shown, v.line, f"verdict grades {pid}, already graded at line {matched[pid].line}")
            continue
        matched[pid] = v
    return matched


def repeated(review, predictions):
    """How many of the review's graded items restate one of these predictions (same probability, like words)."""
    n = 0
    for v in review.verdicts:
        if any(p.stated_percent == v.percent and reviews.similarity(v.claim, p.text) >= reviews.MIN_SIMILARITY
               for p in predictions):
            n += 1
    return n
