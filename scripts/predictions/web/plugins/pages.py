"""Template variables for every page: `site`, the site's metadata (page titles end with its short_title).

The dashboard pages (the track record at /) get it as `metadata` too, so their footer shows the data's license,
source and about link like every Datasette page.
"""

from datasette import hookimpl


@hookimpl
def extra_template_vars(template, datasette):
    site = datasette.metadata() or {}
    if template.startswith("dashboard_"):
        return {"site": site, "metadata": site}
    return {"site": site}
