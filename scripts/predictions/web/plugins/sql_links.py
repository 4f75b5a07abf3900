"""SQL functions for queries that build HTML or URLs (the track record's table of misses, the sitemap).

`html_link(href, text)`: an escaped <a> element, or the escaped text alone when href is neither an http(s)
URL nor a site path (a javascript: URL in a resolution file must never become a link).
`tilde_encode(id)`: an id as it appears in a row page's path (Datasette's tilde encoding: ids contain slashes).
"""

from datasette import hookimpl
from datasette.utils import tilde_encode
from markupsafe import escape


def html_link(href, text):
    label = escape("" if text is None else str(text))
    if not isinstance(href, str) or not href.startswith(("https://", "http://", "/")) or href.startswith("//"):
        return str(label)
    return f'<a href="{escape(href)}">{label}</a>'


def tilde(value):
    return None if value is None else tilde_encode(str(value))


@hookimpl
def prepare_connection(conn):
    conn.create_function("html_link", 2, html_link, deterministic=True)
    conn.create_function("tilde_encode", 1, tilde, deterministic=True)
