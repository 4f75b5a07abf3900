"""Template variables for the project's own pages (templates/pages/*.html): the site's metadata."""

from datasette import hookimpl


@hookimpl
def extra_template_vars(template, datasette):
    if template.startswith("pages/"):
        return {"site": datasette.metadata() or {}}
    return {}
