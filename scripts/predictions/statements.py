"""The list and table styles: statements with a probability, as most bloggers write yearly forecasts.

A post is read this way only when its source's ``forecasts`` globs name it (see styles.py), because an
ordinary article is full of list items that end in a percentage. The grammar (docs/styles.md):

- an item of a Markdown list, of a raw HTML list (``<ol><li>``, as WordPress exports leave in ``.md``
  files), or a row of a table with a probability column, whose own text reads
  ``Statement SEP PROBABILITY [rest]`` where SEP is ``:``, `` - ``, `` – ``, `` — ``, ``⇒``, ``=>`` or ``→``,
  or ``Statement (PROBABILITY) [rest]``, or ``Statement **PROBABILITY**``; PROBABILITY is a percent, with
  an optional ``>``/``<``/``~`` kept in the text as written (``>99%`` states 99);
- a percentage inside a statement ("down by at least 30%") is not its probability: only one after SEP;
- a list item with no probability that holds items is their topic (kept in front of their text); items
  nested under a statement are its commentary, or, when they state a probability themselves, its children;
- items inside a blockquote are quotes, never statements;
- "By 1 July 2021," or "On 1 January 2050," (or "to be evaluated at the end of 2025.") closing the paragraph
  right above a list sets the resolution date of that list's statements.
"""

import datetime as dt
import re
from dataclasses import dataclass, field
from decimal import Decimal
from html.parser import HTMLParser

from . import markdown as md
from .extract import Prediction, extract

BOLD_PROB = "\u2063"  # stands before a percent written in bold: ``Statement **70%**`` needs no other separator
PROB = r"(?P<prob>(?P<cmp>[<>≤≥~])?\s?(?P<num>\d{1,3}(?:\.\d+)?)\s?%)"
SEP = rf"(?:\s*(?::|⇒|=>|→)\s*{BOLD_PROB}?|\s+[-–—]\s*|\s*{BOLD_PROB})\s*"
AFTER = r"(?![\w%]|\.\d)(?P<rest>.*)"
SEP_FORM = re.compile(rf"{SEP}{PROB}{AFTER}", re.DOTALL)
PAREN_FORM = re.compile(rf"\s*\(\s*{PROB}\s*\){AFTER}", re.DOTALL)
MAX_HEADING = 300  # longer headings are never graded headings (and the lazy match below stays cheap)
HEADING_FORM = re.compile(rf"^(?:Prediction\s*#\s*(?P<n>\d+)\s*[:.]\s*)?(?P<statement>.+?)(?:\s*,\s*|{SEP}){PROB}\s*$")
MONTHS = {m: i for i, m in enumerate(
    "january february march april may june july august september october november december".split(), 1)}
MONTH = r"(?P<month>January|February|March|April|May|June|July|August|September|October|November|December)"
DATE_PHRASES = [
    re.compile(rf"\b(?:By|On|Before|As of)\s+(?P<day>\d{{1,2}})\s+{MONTH}\s+(?P<year>\d{{4}})\s*[,:]\s*$"),
    re.compile(rf"\b(?:By|On|Before|As of)\s+{MONTH}\s+(?P<day>\d{{1,2}}),?\s+(?P<year>\d{{4}})\s*[,:]\s*$"),
    re.compile(r"\b(?:at|by) the end of (?P<year>\d{4})\s*[.,:]\s*$"),
]
STRIKE_STYLE = re.compile(r"line-through")


@dataclass(slots=True)
class Item:
    """A list item or table row: its own text (markup dropped) with the markups each character carries."""

    text: str
    flags: list  # per character of text: a frozenset of "strikethrough", "bold", "italic"
    markdown: str
    line: int
    section: int  # how many headings precede it (0: none)
    quoted: bool
    parent: "Item | None" = None
    children: list = field(default_factory=list)
    notes: list = field(default_factory=list)  # its other paragraphs, as plain text
    links: list = field(default_factory=list)  # (href, text)
    footnotes: list = field(default_factory=list)
    before: str | None = None  # the paragraph right above its list (top-level items)


@dataclass(frozen=True, slots=True)
class Statement:
    text: str  # the statement, without its probability (nor its topic)
    probability_text: str
    percent: Decimal
    rest: str  # what follows the probability in the item's own text
    markups: frozenset  # the markups that cover the whole statement


def parse(item):
    """The item's Statement, or None when its own text states no probability."""
    text = item.text
    m = SEP_FORM.search(text) or PAREN_FORM.search(text)
    if not m:
        return None
    statement = clean(text[: m.start()])
    if not re.search(r"\w", statement):
        return None
    covered = [item.flags[i] for i in range(m.start()) if text[i].isalnum()]
    markups = frozenset.intersection(*covered) if covered else frozenset()
    percent = parse_percent(m)
    if percent is None:
        return None
    return Statement(statement, m["prob"].replace(" ", ""), percent, clean(m["rest"]), markups)


def parse_percent(m):
    """The stated percent of a PROB match as a Decimal (70, 99.5), or None above 100."""
    percent = Decimal(m["num"])
    if percent > 100:
        return None
    return Decimal(int(percent)) if percent == percent.to_integral_value() else percent.normalize()


def clean(text):
    return md.SPACES.sub(" ", text.replace(BOLD_PROB, "")).strip(" \t\n*_")


def resolution_date(paragraph):
    """The date a paragraph closing with "By 1 July 2021," sets for the list below it, or None."""
    for pattern in DATE_PHRASES:
        if m := pattern.search(paragraph or ""):
            month = MONTHS[m["month"].lower()] if "month" in pattern.groupindex else 12
            day = int(m["day"]) if "day" in pattern.groupindex else 31
            try:
                return dt.date(int(m["year"]), month, day)
            except ValueError:
                return None
    return None


# -- reading items from a post's tokens ----------------------------------------------------------

def pieces(children):
    """(text, flags) pieces of parsed inline tokens, the markups each is inside; inline HTML counts."""
    out, on, spans = [], set(), []
    toggles = {"strong": "bold", "em": "italic", "s": "strikethrough"}
    for t in children or []:
        kind = t.type.rsplit("_", 1)
        if t.type in ("text", "code_inline"):
            out.append((t.content, frozenset(on)))
        elif t.type in ("softbreak", "hardbreak"):
            out.append((" ", frozenset(on)))
        elif len(kind) == 2 and kind[0] in toggles and kind[1] in ("open", "close"):
            (on.add if kind[1] == "open" else on.discard)(toggles[kind[0]])
        elif t.type == "html_inline":
            tag = re.match(r"<(/?)([a-zA-Z]+)", t.content)
            if tag:
                flag = HTML_FLAGS.get(tag[2].lower())
                if tag[2].lower() == "span":
                    if tag[1]:
                        flag = spans.pop() if spans else None
                    else:
                        flag = "strikethrough" if STRIKE_STYLE.search(t.content) else None
                        spans.append(flag)
                if flag:
                    (on.discard if tag[1] else on.add)(flag)
    return out


HTML_FLAGS = {"del": "strikethrough", "s": "strikethrough", "strike": "strikethrough", "strong": "bold", "b": "bold",
              "em": "italic", "i": "italic"}


def joined(parts):
    """Text and per-character flags of (text, flags) pieces; a bold percent gets the BOLD_PROB separator."""
    text, flags = [], []
    for s, f in parts:
        if "bold" in f and re.fullmatch(r"\s*[<>~]?\d{1,3}(?:\.\d+)?\s?%\s*", s):
            s = BOLD_PROB + s
        for ch in s:  # runs of white space become one space: the grammar's regexes then stay linear
            if ch.isspace():
                if text and text[-1] == " ":
                    continue
                ch = " "
            text.append(ch)
            flags.append(f)
    return "".join(text), flags


class Walker:
    """Every list item and table row of a post, in order, with its section, quote state and nesting."""

    def __init__(self, tokens, body, body_line):
        self.tokens, self.lines, self.body_line = tokens, body.split("\n"), body_line
        self.items, self.section, self.last_paragraph = [], 0, None

    def run(self):
        self.walk(0, len(self.tokens), quoted=False)
        return self.items

    def close_of(self, i):
        return md.close_of(self.tokens, i)

    def walk(self, start, end, quoted):
        i = start
        while i < end:
            t = self.tokens[i]
            if t.type == "heading_open":
                if t.level == 0:
                    self.section += 1
                self.last_paragraph = None
                i = self.close_of(i)
            elif t.type in ("bullet_list_open", "ordered_list_open"):
                j = self.close_of(i)
                self.list(i, j, None, quoted, self.last_paragraph)
                self.last_paragraph, i = None, j
            elif t.type == "html_block":
                j = i
                while j + 1 < end and self.tokens[j + 1].type == "html_block":
                    j += 1
                first, last = t.map[0], self.tokens[j].map[1]
                found = HtmlLists(self.body_line + first).read("\n".join(self.lines[first:last]))
                for item in found:
                    item.section, item.quoted = self.section, quoted
                    if item.parent is None:
                        item.before = self.last_paragraph
                self.items.extend(found)
                if found:
                    self.last_paragraph = None
                i = j
            elif t.type == "blockquote_open":
                j = self.close_of(i)
                self.walk(i + 1, j, quoted=True)
                self.last_paragraph, i = None, j
            elif t.type == "table_open":
                j = self.close_of(i)
                self.table(i, j, quoted)
                self.last_paragraph, i = None, j
            elif t.type == "paragraph_open":
                self.last_paragraph = md.inline_text(self.tokens[i + 1].children).strip()
                i = self.close_of(i)
            i += 1

    def list(self, start, end, parent, quoted, before):
        for own, nested in md.list_items(self.tokens, start, end):
            item = None
            if own:  # the item's first paragraph is its statement; the others are notes on it
                t = own[0]
                text, flags = joined(pieces(t.children))
                item = Item(text, flags, t.content, self.body_line + t.map[0], self.section, quoted, parent,
                            links=md.child_links(t.children), footnotes=md.FOOTNOTE_CITE.findall(t.content),
                            before=before if parent is None else None)
                item.notes += [md.inline_text(n.children).strip() for n in own[1:]]
                self.items.append(item)
                if parent:
                    parent.children.append(item)
            for a, b in nested:
                self.list(a, b, item or parent, quoted, before)

    def table(self, start, end, quoted):
        rows, cells = [], None
        for t in self.tokens[start:end]:
            if t.type == "tr_open":
                cells = []
                rows.append((t, cells))
            elif t.type == "inline" and cells is not None:
                cells.append(t)
        if len(rows) < 2:
            return
        header = [md.inline_text(c.children).strip().lower() for c in rows[0][1]]
        plain = [[md.inline_text(c.children).strip() for c in cells] for _, cells in rows[1:]]
        prob_col = next((k for k, h in enumerate(header) if re.search(r"probab|confidence|chance|credence|likel|^p$|%", h)),
                        None)
        if prob_col is None:
            prob_col = next((k for k in range(len(header)) if plain and all(
                len(r) > k and re.fullmatch(rf"{PROB}", r[k]) for r in plain)), None)
        if prob_col is None:
            return
        text_col = next((k for k in range(len(header)) if k != prob_col), None)
        for tr, cells in rows[1:]:
            if text_col is None or len(cells) <= max(prob_col, text_col):
                continue
            parts = pieces(cells[text_col].children) + [(": ", frozenset())] + pieces(cells[prob_col].children)
            for k, c in enumerate(cells):
                if k not in (prob_col, text_col):
                    parts += [(" ", frozenset())] + pieces(c.children)
            text, flags = joined(parts)
            self.items.append(Item(text, flags, cells[text_col].content, self.body_line + tr.map[0], self.section,
                                   quoted, links=md.child_links(cells[text_col].children),
                                   footnotes=md.FOOTNOTE_CITE.findall(cells[text_col].content)))


class HtmlLists(HTMLParser):
    """The items of raw HTML lists (``<ol><li>…</li></ol>``) in a run of HTML blocks, with their lines."""

    def __init__(self, first_line):
        super().__init__(convert_charrefs=True)
        self.first_line, self.open, self.on, self.spans = first_line, [], [], []

    def read(self, html):
        self.feed(html)
        self.close()
        return [self.finish(item, parts) for item, parts, _ in self.found]

    def reset(self):
        super().reset()
        self.found = []  # [item, parts, still reading its own text]

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "li":
            parent = self.open[-1][0] if self.open else None
            item = Item("", [], "", 0, 0, False, parent)
            if parent:
                parent.children.append(item)
            entry = [item, [], True]
            self.found.append(entry)
            self.open.append(entry)
        elif tag in ("ul", "ol") and self.open:
            self.open[-1][2] = False
        elif tag == "a" and self.open and attrs.get("href"):
            self.open[-1][0].links.append((attrs["href"], ""))
        elif tag == "br":
            self.handle_data(" ")
        elif tag == "span":
            flag = "strikethrough" if STRIKE_STYLE.search(attrs.get("style") or "") else None
            self.spans.append(flag)
            if flag:
                self.on.append(flag)
        elif tag in HTML_FLAGS:
            self.on.append(HTML_FLAGS[tag])

    def handle_endtag(self, tag):
        if tag == "li" and self.open:
            self.open.pop()
        elif tag == "span" and self.spans:
            if self.spans.pop() and "strikethrough" in self.on:
                self.on.remove("strikethrough")
        elif tag in HTML_FLAGS and HTML_FLAGS[tag] in self.on:
            self.on.remove(HTML_FLAGS[tag])

    def handle_data(self, data):
        if not self.open:
            return
        entry = self.open[-1]
        item = entry[0]
        if entry[2]:
            if not item.line and data.strip():
                item.line = self.first_line + self.getpos()[0] - 1 + data[: len(data) - len(data.lstrip())].count("\n")
            entry[1].append((data, frozenset(self.on)))
        elif data.strip():
            item.notes.append(md.SPACES.sub(" ", data).strip())

    def finish(self, item, parts):
        text, flags = joined(parts)
        start = len(text) - len(text.lstrip())
        item.text, item.flags = text.strip(), flags[start : start + len(text.strip())]
        item.markdown = md.SPACES.sub(" ", item.text)
        return item


def items(tokens, body, body_line):
    return Walker(tokens, body, body_line).run()


def topic_of(item):
    """The text of the nearest enclosing item that states no probability (the topic bullet), or None."""
    parent = item.parent
    if parent is None or parse(parent):
        return None
    return clean(parent.text) or None


def stated_parent(item):
    """The nearest enclosing item that is a statement, or None."""
    parent = item.parent
    while parent is not None:
        if parse(parent):
            return parent
        parent = parent.parent
    return None


def full_text(item, statement):
    topic = topic_of(item)
    return f"{topic}: {statement.text}" if topic else statement.text


def commentary(item, statement):
    """An item's notes: what follows its probability, its other paragraphs and its nested non-statements."""
    parts = [statement.rest] if statement.rest else []
    parts += item.notes
    parts += [clean(c.text) for c in item.children if not parse(c)]
    return "\n\n".join(p for p in parts if p) or None


def resolves_on(item):
    top = item
    while top.parent is not None:
        top = top.parent
    return resolution_date(top.before)


def extract_forecasts(post_id, shown, body, body_line, report):
    """A forecast-style post's Extraction: its sections and references as extract.py reads them, and one
    prediction per statement (ids ``<post>/<section anchor>/<n>`` as for markers)."""
    extraction, tokens = extract(post_id, shown, body, body_line, report, scan=False)
    sections, counts, made = extraction.sections, {}, {}
    for item in items(tokens, body, body_line):
        st = parse(item) if not item.quoted else None
        if st is None:
            continue
        section = sections[item.section - 1] if item.section else None
        anchor = section.anchor if section else "intro"
        n = counts[anchor] = counts.get(anchor, 0) + 1
        parent = stated_parent(item)
        pred = Prediction(
            id=f"{post_id}/{anchor}/{n}", section=section, position=len(extraction.predictions) + 1,
            kind="list_item", text=full_text(item, st), passage_markdown=item.markdown.replace(BOLD_PROB, ""),
            probability_text=st.probability_text, stated_percent=st.percent, line=item.line,
            parent_id=made[id(parent)].id if parent is not None and id(parent) in made else None,
            commentary_markdown=commentary(item, st),
            citations=[("fn", k) for k in item.footnotes] + [("url", h) for h, _ in item.links],
            resolves_by=resolves_on(item),
        )
        made[id(item)] = pred
        extraction.predictions.append(pred)
    return extraction
