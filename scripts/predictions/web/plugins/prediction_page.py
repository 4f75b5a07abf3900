"""A prediction's own page (/data/predictions/<id>): what a reader came for, above the raw row.

templates/row-data-predictions.html shows `prediction`: the row with its post, section, resolution,
evidence and references, read here in one place.
"""

from datasette import hookimpl
from datasette.utils import urlsafe_components

QUERIES = {
    "prediction": """
        SELECT p.*, po.title AS post_title, po.url AS post_url, s.title AS section_title,
               r.outcome, r.value, r.verdict, r.note, r.judged_by, r.resolved_on, r.source AS resolution_source,
               r.source_path, r.source_line, r.review_url
        FROM predictions p JOIN posts po ON po.id = p.post_id
        LEFT JOIN sections s ON s.id = p.section_id
        LEFT JOIN resolutions r ON r.prediction_id = p.id
        WHERE p.id = :id""",
    "evidence": "SELECT url, title, domain FROM evidence WHERE prediction_id = :id ORDER BY position",
    "references": """
        SELECT f.kind, f.key, f.title, f.url FROM prediction_references pr JOIN "references" f ON f.id = pr.reference_id
        WHERE pr.prediction_id = :id ORDER BY f.line""",
}


@hookimpl
def extra_template_vars(template, database, table, request, datasette):
    if template != f"row-{database}-predictions.html" or table != "predictions" or request is None:
        return {}

    async def inner():
        [row_id] = urlsafe_components(request.url_vars["pks"])
        db = datasette.get_database(database)
        found = {name: [dict(r) for r in (await db.execute(sql, {"id": row_id})).rows] for name, sql in QUERIES.items()}
        if not found["prediction"]:
            return {}
        return {"prediction": found["prediction"][0], "evidence": found["evidence"], "references": found["references"]}

    return inner
