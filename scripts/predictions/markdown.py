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
# Hugo's callout shortcode (Hextra, Docsy, ...), `{{< callout type="info" >}}` ... `{{< /callout >}}`, each on its own
# line: the form notes took before GitHub-style admonitions (`> [!NOTE]`).
CALLOUT_OPEN = re.compile(r"^ {0,3}\{\{[<%]\s*callout\b[^\n]*?[>%]\}\}[ \t]*(?P<rest>.*)$")
CALLOUT_CLOSE = re.compile(r"^ {0,3}\{\{[<%]\s*/\s*callout\s*[>%]\}\}\s*$")
FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
BREAK_TAG = re.compile(r"^<br\s*/?>$", re.IGNORECASE)


@lru_cache(maxsize=1)
def parser():
    return MarkdownIt("commonmark").enable(["table", "strikethrough"]).use(footnote_plugin)


def parse(body):
    """Block tokens and the env that holds footnote definitions."""
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
    (parsed here, once) or a paragraph's inline token (used as the block parse left it)."""
    texts, found = [], []
    for children in map(children_of, parts):
        for c in children:
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
    """(href, text) of the links among already parsed inline tokens."""
    found = []
    children = children or []
    for i, t in enumerate(children):
        if t.type == "link_open":
            text = []
            for c in children[i + 1 :]:
                if c.type == "link_close":
                    break
                text.append(c.content)
            found.append((t.attrs.get("href", ""), "".join(text).strip()))
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
