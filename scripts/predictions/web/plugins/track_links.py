"""Every post, tag and author on a table page links to the track record filtered to it (/?post=, ?tag=, ?author=)."""

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


@hookimpl
def render_cell(row, value, column, table, datasette):
    link = LINKED.get((table, column))
    if link is None or value is None:
        return None
    name, key = link
    try:
        target = row[key]
    except (IndexError, KeyError):
        return None
    href = datasette.urls.instance() + "?" + urlencode({name: target})
    return Markup(f'{escape(value)} <a class="track-record" href="{escape(href)}" title="the track record of this {name}">'
                  f"track record</a>")
