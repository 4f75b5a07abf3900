"""The Markdown parser (markdown-it-py, CommonMark + tables + footnotes) and plain-text helpers."""

import re
from functools import lru_cache
from urllib.parse import urlsplit

from markdown_it import MarkdownIt
from mdit_py_plugins.footnote import footnote_plugin

FOOTNOTE_CITE = re.compile(r"\[\^([^\]\s\[]+)\]")
HEADING_ID = re.compile(r"(?<!\s)\s*\{#(?P<id>[\w-]+)\}\s*$")
ADMONITION = re.compile(r"^\s*\[!(?P<kind>\w+)\]\s*")
SPACES = re.compile(r"\s+")
# Where an inline rule of the parser below may start (escapes, code, emphasis, strikethrough, links, images, autolinks
# and HTML, entities, footnotes): text without them parses to itself, line breaks and runs of spaces aside.
INLINE_SYNTAX = re.compile(r"[\\`*_~\[\]!<&^]")
# Hugo's callout shortcode (Hextra, Docsy, ...), `{{< callout type="info" >}}` ... `{{< /callout >}}`, each on its own
# line: the form notes took before GitHub-style admonitions (`> [!NOTE]`).
CALLOUT_OPEN = re.compile(r"^ {0,3}\{\{[<%]\s*callout\b[^\n]*?[>%]\}\}[ \t]*(?P<rest>.*)$")
CALLOUT_CLOSE = re.compile(r"^ {0,3}\{\{[<%]\s*/\s*callout\s*[>%]\}\}\s*$")
FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
BREAK_TAG = re.compile(r"^<br\s*/?>$", re.IGNORECASE)


@lru_cache(maxsize=1)
def parser():
    md = MarkdownIt("commonmark").enable(["table", "strikethrough"]).use(footnote_plugin)
    ruler = md.inline.ruler
    for name in ("backticks", "html_inline"):  # code spans and inline HTML note where they are in their paragraph
        ruler.at(name, with_span(ruler.__rules__[ruler.__find__(name)].fn))
    md.block.tokenize = note_too_deep(md.block.tokenize, md.options.maxNesting)
    return md


def with_span(rule):
    """An inline rule that also records in its token's meta the (start, end) of its source in the paragraph."""

    def spanned(state, silent):
        start, count = state.pos, len(state.tokens)
        if not rule(state, silent):
            return False
        if not silent and len(state.tokens) > count and state.tokens[-1].type in ("code_inline", "html_inline"):
            state.tokens[-1].meta["span"] = (start, state.pos)
        return True

    return spanned


def note_too_deep(tokenize, limit):
    """markdown-it skips what is nested deeper than its limit (lists, blockquotes); note the first line skipped."""

    def tokenize_noting(state, start, end):
        if state.level >= limit and (line := state.skipEmptyLines(start)) < end:
            state.env.setdefault("too_deep", []).append(line)
        tokenize(state, start, end)

    return tokenize_noting


def parse(body):
    """Block tokens and the env that holds footnote definitions (and ``too_deep``: the first line of each
    passage nested too deeply to be read)."""
    env = {}
    return parser().parse(callouts_as_notes(body), env), env


def callouts_as_notes(body):
    """The body with each callout shortcode turned into a `> [!NOTE]` blockquote, line for line (so every line
    keeps its number); fenced code is left alone."""
    if "callout" not in body:
        return body
    lines, inside, fence = body.split("\n"), False, None
    for i, line in enumerate(lines):
        if fence:
            fence = None if line.lstrip().startswith(fence) else fence
        elif inside and CALLOUT_CLOSE.match(line):
            lines[i], inside = "", False
        elif inside:
            lines[i] = "> " + line
        elif m := CALLOUT_OPEN.match(line):
            lines[i], inside = ("> [!NOTE] " + m["rest"]).rstrip(), True
        elif m := FENCE.match(line):
            fence = m[1]
    return "\n".join(lines)


def masked(inline):
    """An inline token's source with its code spans and inline HTML (comments too) blanked out, newlines kept:
    the same length and lines, so offsets still point into the source. Markers are never read there."""
    text = inline.content
    spans = [c.meta["span"] for c in inline.children or () if c.meta and "span" in c.meta]
    if not spans:
        return text
    out, pos = [], 0
    for start, end in spans:
        out += [text[pos:start], re.sub(r"[^\n]", " ", text[start:end])]
        pos = end
    return "".join(out) + text[pos:]


def inline_text(children):
    """Plain text of inline tokens: emphasis and links dropped to their text, footnote marks removed."""
    out = []
    for t in children or []:
        if t.type in ("text", "code_inline", "html_inline"):
            out.append(t.content if t.type != "html_inline" else " " if BREAK_TAG.match(t.content) else "")
        elif t.type in ("softbreak", "hardbreak"):
            out.append(" ")
        elif t.type == "image":
            out.append(inline_text(t.children))
    return "".join(out)


def digest(*parts):
    """(plain text, [(href, link text), ...]) of the parts, each a Markdown string of one or more paragraphs
    (parsed here, once: unless it holds no character an inline rule starts at, when it is its own text) or a
    paragraph's inline token (used as the block parse left it)."""
    texts, found = [], []
    for part in parts:
        if isinstance(part, str) and not INLINE_SYNTAX.search(part):
            texts.append(part)
            continue
        for c in children_of(part):
            texts.append(inline_text(c))
            found += child_links(c)
    return SPACES.sub(" ", " ".join(texts)).strip(), found


def children_of(part):
    """The inline children of each paragraph of a part (see digest)."""
    if not isinstance(part, str):
        return [part.children]
    tokens = (parser().parseInline(p) for p in re.split(r"\n\s*\n", FOOTNOTE_CITE.sub("", part)))
    return [t[0].children if t else [] for t in tokens]


def child_links(children):
    """(href, text) of the links among already parsed inline tokens, in one pass (links never nest)."""
    found, href, text = [], None, None
    for t in children or ():
        if t.type == "link_open":
            href, text = t.attrs.get("href", ""), []
        elif t.type == "link_close" and text is not None:
            found.append((href, "".join(text).strip()))
            text = None
        elif text is not None:
            text.append(t.content)
    if text is not None:
        found.append((href, "".join(text).strip()))
    return found


def hugo_anchor(title):
    """Hugo's default ("github") heading id: lower case, spaces to '-', other punctuation dropped."""
    out = []
    for ch in title.strip().lower():
        if ch.isalnum() or ch in "_-":
            out.append(ch)
        elif ch.isspace():
            out.append("-")
    return "".join(out)


def domain(url):
    if not url:
        return None
    host = urlsplit(url).hostname or None
    return host[4:] if host and host.startswith("www.") else host


def close_of(tokens, i):
    """Index of the token that closes the block opened at tokens[i] (the last token if it is never closed)."""
    depth = 0
    for j in range(i, len(tokens)):
        depth += tokens[j].nesting
        if depth == 0:
            return j
    return len(tokens) - 1


def list_items(tokens, start, end):
    """Each item of the list tokens[start:end]: (its own inline tokens, the (start, end) of each nested list)."""
    i = start + 1
    while i < end:
        if tokens[i].type != "list_item_open":
            i += 1
            continue
        item_end = close_of(tokens, i)
        own, nested, j = [], [], i + 1
        while j < item_end:
            t = tokens[j]
            if t.type in ("bullet_list_open", "ordered_list_open"):
                nested.append((j, close_of(tokens, j)))
                j = nested[-1][1]
            elif t.type == "inline":
                own.append(t)
            j += 1
        yield own, nested
        i = item_end + 1
