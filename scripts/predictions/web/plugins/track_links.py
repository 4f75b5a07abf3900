"""Every post, tag and author on a table page links to the track record filtered to it (/?post=, ?tag=, ?author=).

The JSON arrays of tags and authors (prediction_overview) read as lists of such links, not as JSON."""

import json
from urllib.parse import urlencode

from datasette import hookimpl
from markupsafe import Markup, escape

# (table, column) -> (filter, the row's column whose value the filter takes)
LINKED = {
    ("posts", "title"): ("post", "id"),
    ("tags", "name"): ("tag", "name"),
    ("authors", "name"): ("author", "name"),
    ("prediction_overview", "post_title"): ("post", "post_id"),
    ("prediction_status", "post_title"): ("post", "post_id"),
}


# (table, column) of JSON arrays of names -> filter
LISTS = {("prediction_overview", "tags"): "tag", ("prediction_overview", "authors"): "author"}


def track_link(datasette, name, target, text):
    href = datasette.urls.instance() + "?" + urlencode({name: target})
    return f'<a href="{escape(href)}" title="the track record of this {name}">{escape(text)}</a>'


def names(value):
    try:
        items = json.loads(value)
    except (TypeError, ValueError):
        return None
    return items if isinstance(items, list) and all(isinstance(i, str) for i in items) else None


@hookimpl
def render_cell(row, value, column, table, datasette):
    if (table, column) in LISTS and names(value) is not None:
        return Markup(", ".join(track_link(datasette, LISTS[table, column], n, n) for n in names(value)))
    link = LINKED.get((table, column))
    if link is None or value is None:
        return None
    name, key = link
    try:
        target = row[key]
    except (IndexError, KeyError):
        return None
    return Markup(f"{escape(value)} {track_link(datasette, name, target, 'track record')}")
