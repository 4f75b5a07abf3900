"""Sections, predictions and references of one post, from its Markdown tokens.

A prediction is a passage closed by a probability marker (see markers.py):
- headline: top-level paragraphs since the section heading or the previous marker, closed by a marker;
- list_item: a list item's own text up to its marker; a second marker in the same item makes a second
  prediction that depends on the first; a marked item nested under a marked item records it as parent;
- note: a marker inside a blockquote (``> [!NOTE]``), the passage being the blockquote's text.
Headings, tables, code and HTML are never scanned for markers.

Ids are ``<post>/<section anchor>/<n>``: n counts predictions within the section, so an edit elsewhere in
the post never changes an id ("intro" stands for text before the first heading).
"""

import re
from dataclasses import dataclass, field

from . import markdown as md
from .markers import find_markers

LEADING_JUNK = re.compile(r"^[\s,;:.)\\]+")
TRAILING_JUNK = re.compile(r"(?<![\s,;:\\(])[\s,;:\\(]+$")


@dataclass(slots=True)
class Section:
    id: str
    anchor: str
    title: str
    level: int
    parent_id: str | None
    position: int
    line: int


@dataclass(slots=True)
class Prediction:
    id: str
    section: Section | None
    position: int
    kind: str
    text: str
    passage_markdown: str
    probability_text: str
    stated_percent: object  # Decimal
    line: int
    parent_id: str | None = None
    depends_on_id: str | None = None
    commentary_markdown: str | None = None
    citations: list = field(default_factory=list)  # footnote keys and link URLs in the passage
    resolves_by: object = None  # a date stated above its list ("By 1 July 2021,"), else the post's


@dataclass(slots=True)
class Reference:
    id: str
    kind: str
    key: str | None
    title: str | None
    url: str | None
    line: int


@dataclass(slots=True)
class Extraction:
    sections: list = field(default_factory=list)
    predictions: list = field(default_factory=list)
    references: list = field(default_factory=list)


class Extractor:
    def __init__(self, post_id, rel_path, body, body_line, report, bare=False, scan=True):
        self.post_id, self.rel_path, self.report = post_id, rel_path, report
        self.body_line = body_line
        self.bare, self.scan = bare, scan
        self.out = Extraction()
        self.section = None
        self.anchors = {}
        self.counts = {}
        self.pending = []  # the passage so far: Markdown strings, or whole paragraphs' inline tokens
        self.after_heading = False
        self.footnote_inlines = set()
        self.tokens, self.env = md.parse(body)

    # -- the walk ---------------------------------------------------------------------------------

    def run(self):
        for line in self.env.get("too_deep", ()):
            self.report.error(self.rel_path, self.body_line + line,
                              "lists or blockquotes nested too deeply for the Markdown parser (over "
                              f"{md.parser().options.maxNesting} levels; a list item counts two): the text from this "
                              "line on, inside them, cannot be read; flatten the nesting")
        tokens, i = self.tokens, 0
        while i < len(tokens):
            t = tokens[i]
            if t.type == "heading_open":
                self.heading(t, tokens[i + 1])
            elif t.type == "paragraph_open" and t.level == 0 and self.scan:
                self.flow([tokens[i + 1]], "headline", chain=False, keep_pending=True)
            elif t.type in ("bullet_list_open", "ordered_list_open"):
                end = self.close_of(i)
                if self.has_marker(i, end):
                    self.pending = []
                    self.list(i, end, parent_id=None)
                else:
                    self.pending.extend(self.inlines(i, end))
                i = end
            elif t.type == "blockquote_open":
                end = self.close_of(i)
                inlines = [tok for tok in tokens[i:end] if tok.type == "inline"]
                if self.has_marker(i, end):
                    self.flow(inlines, "note", chain=False, keep_pending=False)
                    self.pending = []
                else:
                    self.pending.extend(md.ADMONITION.sub("", tok.content) for tok in inlines)
                i = end
            elif t.type == "footnote_block_open":
                self.footnotes(i)
                break
            i += 1
        self.inline_links()
        return self.out

    def close_of(self, i):
        return md.close_of(self.tokens, i)

    def inlines(self, start, end):
        return [t for t in self.tokens[start:end] if t.type == "inline"]

    def has_marker(self, start, end):
        return self.scan and any(find_markers(md.masked(t), self.bare) for t in self.inlines(start, end))

    def line_of(self, inline, offset):
        return self.body_line + inline.map[0] + inline.content.count("\n", 0, offset)

    # -- sections ---------------------------------------------------------------------------------

    def heading(self, open_token, inline):
        level = int(open_token.tag[1])
        title = md.inline_text(inline.children).strip()
        if m := md.HEADING_ID.search(title):
            anchor, title = m["id"], title[: m.start()].strip()
        else:
            anchor = md.hugo_anchor(title)
        if anchor in self.anchors:
            self.anchors[anchor] += 1
            anchor = f"{anchor}-{self.anchors[anchor]}"
        self.anchors.setdefault(anchor, 0)
        parent = self.section
        while parent and parent.level >= level:
            parent = next((s for s in self.out.sections if s.id == parent.parent_id), None)
        self.section = Section(
            id=f"{self.post_id}#{anchor}", anchor=anchor, title=title, level=level,
            parent_id=parent.id if parent else None, position=len(self.out.sections) + 1,
            line=self.body_line + open_token.map[0],
        )
        self.out.sections.append(self.section)
        self.pending, self.after_heading = [], True

    # -- predictions ------------------------------------------------------------------------------

    def flow(self, inlines, kind, chain, keep_pending, parent_id=None):
        """Emit a prediction at each marker in these paragraphs; returns the last one made."""
        passage = list(self.pending) if keep_pending else []
        last = None
        for inline in inlines:
            text = md.ADMONITION.sub("", inline.content) if kind == "note" else inline.content
            shift = len(inline.content) - len(text)
            pos = 0
            for m in find_markers(md.masked(inline)[shift:], self.bare):  # never in code or HTML
                line = self.line_of(inline, m.start + shift)
                if m.error:
                    self.report.error(self.rel_path, line, m.error)
                    pos = m.end
                    continue
                passage.append(text[pos : m.start])
                pred = self.predict(passage, m, line, kind, parent_id, last.id if chain and last else None)
                last, passage, pos = pred or last, [], m.end
            rest = LEADING_JUNK.sub("", text[pos:]).strip()
            if rest and last and kind == "list_item" and not passage:
                last.commentary_markdown = rest
                last.citations += self.citations(rest)
            elif rest:
                passage.append(inline if pos == 0 and not shift else text[pos:])
        if keep_pending:
            self.pending = passage
        return last

    def predict(self, passage, marker, line, kind, parent_id, depends_on_id):
        markdown, text, links = passage_of(passage)
        if not text and self.after_heading and self.section and kind == "headline":
            text = markdown = self.section.title
        self.after_heading = False
        if not text:
            self.report.error(self.rel_path, line,
                f"probability marker {marker.text!r} closes an empty passage (a second marker for the same "
                "passage?): remove the extra marker or write the prediction before it")
            return None
        anchor = self.section.anchor if self.section else "intro"
        n = self.counts[anchor] = self.counts.get(anchor, 0) + 1
        pred = Prediction(
            id=f"{self.post_id}/{anchor}/{n}", section=self.section, position=len(self.out.predictions) + 1,
            kind=kind, text=text, passage_markdown=markdown, probability_text=marker.text,
            stated_percent=marker.percent, line=line, parent_id=parent_id, depends_on_id=depends_on_id,
            citations=self.citations(markdown, links),
        )
        self.out.predictions.append(pred)
        return pred

    def list(self, start, end, parent_id):
        """Each item of a list that holds markers: its own paragraphs, then its nested lists."""
        for own, nested in md.list_items(self.tokens, start, end):
            last = self.flow(own, "list_item", chain=True, keep_pending=False, parent_id=parent_id)
            for a, b in nested:
                self.list(a, b, parent_id=last.id if last else parent_id)

    # -- references -------------------------------------------------------------------------------

    def citations(self, markdown, links=None):
        """Footnote keys and link URLs cited in a passage (links: already parsed, if at hand)."""
        links = md.digest(markdown)[1] if links is None else links
        return [("fn", k) for k in md.FOOTNOTE_CITE.findall(markdown)] + [("url", h) for h, _ in links]

    def footnotes(self, start):
        defined = {}
        tokens, i = self.tokens, start
        while i < len(tokens):
            t = tokens[i]
            if t.type == "footnote_open":
                label = t.meta["label"]
                inline = next((x for x in tokens[i:] if x.type == "inline"), None)
                self.footnote_inlines.add(id(inline))
                found = md.child_links(inline.children if inline else [])
                url, title = found[0] if found else (None, md.inline_text(inline.children if inline else []).strip())
                line = self.body_line + inline.map[0] if inline and inline.map else self.body_line  # ^[inline] has no map
                if label not in defined:
                    defined[label] = Reference(f"{self.post_id}/fn/{label}", "footnote", label, title or None, url, line)
                    self.out.references.append(defined[label])
            i += 1
        return defined

    def inline_links(self):
        """Footnotes cited but not defined are errors; inline links become references."""
        defined = {r.key for r in self.out.references if r.kind == "footnote"}
        seen = {}
        for t in self.tokens:
            if t.type != "inline" or not t.map:
                continue
            for c in t.children or []:
                if c.type == "text":
                    for m in md.FOOTNOTE_CITE.finditer(c.content):
                        if m[1] not in defined:
                            self.report.error(self.rel_path, self.body_line + t.map[0],
                                f"footnote [^{m[1]}] is cited but never defined: add a line `[^{m[1]}]: [title](url)`")
            if id(t) in self.footnote_inlines:
                continue
            for href, title in md.child_links(t.children):
                if href and href not in seen:
                    seen[href] = Reference(f"{self.post_id}/link/{len(seen) + 1}", "inline", None,
                                           title or None, href, self.body_line + t.map[0])
        self.out.references.extend(seen.values())

def passage_of(parts):
    """(Markdown, plain text, links) of a passage's parts: a whole paragraph's inline token is used as parsed,
    a piece of one (up to a marker) is parsed on its own."""
    markdowns, pieces = [], []
    for part in parts:
        source = part if isinstance(part, str) else part.content
        piece = TRAILING_JUNK.sub("", LEADING_JUNK.sub("", source))
        if piece:
            markdowns.append(piece)
            pieces.append(part if piece == source and not isinstance(part, str) else piece)
    return "\n\n".join(markdowns), *md.digest(*pieces)


def extract_post(post_id, post, report):
    """The forecasts of a post as the build reads them: a bare ``(70%)`` counts in a post that uses the full
    marker or says ``forecasts: true``."""
    bare = bool(post.meta.get("forecasts")) or "Probability" in post.body
    return extract(post_id, post.shown, post.body, post.body_line, report, bare=bare)[0]


def extract(post_id, rel_path, body, body_line, report, bare=False, scan=True):
    """Sections, predictions and references of a post; scan=False reads sections and references only."""
    extractor = Extractor(post_id, rel_path, body, body_line, report, bare, scan)
    return extractor.run(), extractor.tokens
