"""Template variables for every page: `site`, the site's metadata (page titles end with its short_title)."""

from datasette import hookimpl


@hookimpl
def extra_template_vars(datasette):
    return {"site": datasette.metadata() or {}}
