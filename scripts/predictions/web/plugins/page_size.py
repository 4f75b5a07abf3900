"""`_size` for the canned queries that list rows: they end with `LIMIT :_page_size`.

Datasette's `_size` pages tables but not canned queries, which return up to max_returned_rows (2,000) rows:
on 10,000 posts the open and misses lists took 15-40 ms, most of it Datasette turning 2,000 rows into JSON
(benchmarks/RESULTS.md). The magic parameter `:_page_size` is `_size` as tables read it: DEFAULT rows unless
the URL asks for another number (1 to max_returned_rows) or `max` (Datasette's CSV link on a query page
asks for `_size=max`, so a CSV download still holds every row up to the cap). query.html links to more rows
when a page is full.
"""

from datasette import hookimpl
from datasette.utils import path_with_replaced_args

DEFAULT = 100
MARK = ":_page_size"  # in a canned query's SQL: its rows are paged


def page_size(asked, most):
    """Rows for a `_size` value: DEFAULT when it is missing or not a number, at most `most` (also for `max`)."""
    if asked == "max":
        return most
    return min(max(int(asked), 1) if asked and asked.isdigit() else DEFAULT, most)


@hookimpl
def register_magic_parameters(datasette):
    def page(key, request):
        if key != "size":
            raise KeyError(key)
        return page_size(request.args.get("_size"), datasette.setting("max_returned_rows"))

    return [("page", page)]


@hookimpl
def extra_template_vars(datasette, request):
    """For query.html: `paged(sql)`, None unless that SQL is paged, else its size, the cap and a link to the cap."""
    if request is None:
        return {}
    most = datasette.setting("max_returned_rows")

    def paged(sql):
        if not sql or MARK not in sql:
            return None
        return {"size": page_size(request.args.get("_size"), most), "most": most,
                "more": path_with_replaced_args(request, {"_size": "max"})}

    return {"paged": paged}
