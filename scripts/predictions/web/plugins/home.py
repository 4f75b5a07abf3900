"""The home page `/` is the track-record dashboard (datasette-dashboards), with the same filters in its query string.

The dashboard itself is data: `plugins: datasette-dashboards: <slug>` in metadata.yml. metadata's
`home_dashboard` names the one shown at `/`; Datasette's own list of databases stays one click away (/data).
"""

from datasette import hookimpl
from datasette.utils.asgi import NotFound, Request


async def home(request, datasette):
    import datasette_dashboards

    slug = (datasette.metadata() or {}).get("home_dashboard")
    if not slug:
        raise NotFound("no home_dashboard in metadata")
    scope = dict(request.scope, url_route={"kwargs": {"slug": slug}})
    return await datasette_dashboards.dashboard_view(Request(scope, request.receive), datasette)


@hookimpl
def register_routes():
    return [(r"^/$", home)]
