"""The `predictions` command: a thin layer over the library, one command per stage.

Every command works on a dataset folder (config.py): the nearest ``predictions.toml`` from the current
directory upward, or ``--config FILE``; with none, the current directory. ``--content``, ``--resolutions`` and
``--db`` override what the dataset says, for one run.
"""

import difflib
import re
import sys
from pathlib import Path

import click

from . import build as pipeline
from . import config, gitsources, update
from .errors import InputError, display
from .resolutions import JUDGES
from .resolve import record, resolution_path
from .schema import OUTCOMES
from .sitemeta import site_metadata
from .workflow import WORKFLOW


class Context:
    """What the group's options say; the Dataset is made once, on first use, and passed down."""

    def __init__(self, config_file, overrides):
        self.config_file, self.overrides, self._dataset = config_file, overrides, None

    def dataset(self, content=(), resolutions=None, db_path=None):
        if self._dataset is None:
            try:
                dataset = config.find(config=self.config_file)
                dataset = config.with_overrides(dataset, gitsources.parse_overrides(self.overrides))
            except InputError as e:
                fail(e)
            except ValueError as e:
                raise click.BadParameter(str(e), param_hint="--from") from None
            if content:
                dataset = dataset.with_content(content)
            self._dataset = dataset.with_paths(db_path=db_path, resolutions=resolutions)
        return self._dataset


pass_context = click.make_pass_decorator(Context)


def fail(error):
    """Print an InputError's problems (each with its file and line) and exit 1."""
    for problem in error.problems:
        click.echo(f"error: {problem}", err=True)
    click.echo(f"{len(error.problems)} error(s); nothing was written.", err=True)
    sys.exit(1)


def content_option(f):
    f = click.option("--content", "content", multiple=True, type=click.Path(exists=True, file_okay=False),
                     help="Read this content root (Hugo's content/ or a Jekyll site) instead of the dataset's "
                          "sources. Repeatable.")(f)
    f = click.option("--resolutions", "resolutions", type=click.Path(file_okay=False),
                     help="Folder of resolution files (<post>.yml). Default: the dataset's (resolutions/).")(f)
    f = click.option("--drafts", is_flag=True, help="Include posts with `draft: true`.")(f)
    f = click.option("--base-url", help="Override the site's base URL (otherwise read from its config).")(f)
    return f


def collect(dataset, drafts=False, base_url=None, quiet=True, cache=None, on_post=None):
    try:
        return pipeline.collect_dataset(dataset, drafts=drafts, base_url=base_url,
                                        progress=None if quiet else show_progress, cache=cache, on_post=on_post)
    except InputError as e:
        fail(e)


def show_progress(n, total):
    if total >= 200 and (n % 500 == 0 or n == total):
        click.echo(f"  read {n:,}/{total:,} files", err=True)


def summary(corpus):
    return summary_lines(update.corpus_counts(corpus))


def summary_lines(c):
    """The build's summary from its counts (update.corpus_counts, or update.db_counts of the database)."""
    lines = [
        f"posts read: {c['posts']} ({c['drafts']} drafts skipped)",
        f"posts with predictions: {c['forecasts']}",
        f"review posts: {c['reviews']}",
        f"predictions: {c['predictions']}",
        f"references: {c['references']}",
        f"resolutions: {c['resolutions']} (from reviews {c['from_review']}, from files {c['from_file']}, "
        f"voided by condition {c['from_condition']})",
        f"warnings: {sum(c['warnings'].values())}",
    ]
    return lines + [f"  {kind}: {n}" for kind, n in sorted(c["warnings"].items())]


@click.group()
@click.version_option(package_name="predictions")
@click.option("--config", "config_file", type=click.Path(dir_okay=False),
              help="The dataset's predictions.toml. Default: the nearest one from the current directory upward; "
                   "with none, the current directory is the dataset folder.")
@click.option("--from", "overrides", multiple=True, metavar="NAME=PATH", envvar="PREDICTIONS_FROM",
              help="Read source NAME from PATH instead of what predictions.toml says: a git repository or bundle "
                   "(fetched from there), or a folder holding the site root. Repeatable; the environment variable "
                   "PREDICTIONS_FROM takes the same pairs separated by spaces. The config file is never edited.")
@click.pass_context
def cli(ctx, config_file, overrides):
    """Published forecasts and their resolutions as a Datasette-ready SQLite database."""
    ctx.obj = Context(config_file, overrides)


@cli.command()
@click.option("--db", "db_path", type=click.Path(dir_okay=False), help="Database file. Default: the dataset's data.db.")
@content_option
@click.option("--quiet", "-q", is_flag=True, help="Print only the summary.")
@click.option("--full", is_flag=True, help="Parse every post and write a new database, instead of updating the previous "
              "one (or reusing unchanged posts' parsed work).")
@click.option("--jobs", "-j", type=click.IntRange(min=1), default=None,
              help="Worker processes that read and parse the posts. Default: one per usable CPU (none for under "
                   "100 files); 1: no workers.")
@click.option("--claims", type=click.Path(file_okay=False),
              help="Folder of claims files: authors' own calibration tallies (docs/styles.md). Default: the "
                   "dataset's claims/ when it exists.")
@pass_context
def build(ctx, db_path, content, resolutions, drafts, base_url, quiet, full, jobs, claims):
    """Read the posts and resolutions and write the database (replaced only if everything succeeded)."""
    dataset = ctx.dataset(content, resolutions, db_path)
    try:
        built = update.build(dataset, drafts=drafts, base_url=base_url, progress=None if quiet else show_progress,
                             full=full, jobs=jobs, claims_dir=claims)
    except InputError as e:
        fail(e)
    if not quiet:
        for _kind, problem in built.report.warnings:
            click.echo(f"warning: {problem}", err=True)
    click.echo(f"wrote {display(dataset.db_path)}")
    for line in summary_lines(built.counts):
        click.echo(line)
    click.echo(built.line())
    click.echo(f"incremental: reused the parsed work of {built.reused} unchanged posts, parsed {built.parsed}")


@cli.command()
@content_option
@pass_context
def lint(ctx, content, resolutions, drafts, base_url):
    """Run every check of `build` without writing anything; list the prediction ids."""
    corpus = collect(ctx.dataset(content, resolutions), drafts, base_url)
    for _kind, problem in corpus.report.warnings:
        click.echo(f"warning: {problem}", err=True)
    for p in corpus.predictions:
        click.echo(f"{p.id}\t{p.probability_text}\t{p.text[:70]}")
    for line in summary(corpus):
        click.echo(line)


@cli.command()
@click.option("--from", "overrides", multiple=True, metavar="NAME=PATH",
              help="Fetch source NAME from PATH or URL (a git repository or bundle) this time. Repeatable.")
@pass_context
def fetch(ctx, overrides):
    """Clone or update the dataset's git sources into .predictions/git/ (offline: the cached copies)."""
    ctx.overrides = (*ctx.overrides, *overrides)
    dataset = ctx.dataset()
    sources = [s for s in dataset.sources if s.git]
    if not sources:
        click.echo("no git sources in this dataset: nothing to fetch")
        return
    problems = []
    for source in sources:
        try:
            done = gitsources.fetch(dataset, source)
        except InputError as e:
            problems += e.problems
            continue
        if done.warning:
            click.echo(f"warning: {done.warning}", err=True)
        click.echo(f"{done.name}: {done.action}, at {done.commit}")
    if problems:
        fail(InputError(problems))


@cli.command()
@click.option("--force", is_flag=True, help="Replace an existing predictions.toml.")
def init(force):
    """Write a commented predictions.toml for the site in the current folder, and say what was found."""
    from .init import detect, render

    here = Path.cwd()
    target = here / config.CONFIG_NAME
    if target.exists() and not force:
        raise click.ClickException(f"{display(target)} exists already (use --force to replace it)")
    found = detect(here)
    for line in found.notes:
        click.echo(line)
    target.write_text(render(found), encoding="utf-8")
    click.echo(f"wrote {display(target)}: check it, then run `predictions build` and `predictions serve`")


def url_list(ctx, param, values):
    for value in values:
        if not re.match(r"^https?://[^\s/$.?#][^\s]*$", value):
            raise click.BadParameter(f"{value!r} is not a URL (write it as https://...)", param=param)
    return values


@cli.command()
@click.argument("prediction_id")
@click.option("--outcome", required=True, type=click.Choice(OUTCOMES),
              help="Whether the statement as written happened (not whether the forecast was right).")
@click.option("--value", type=click.FloatRange(0, 1), help="For --outcome partial: how much happened, 0 to 1.")
@click.option("--note", help="Why: the evidence in a sentence.")
@click.option("--source", "sources", multiple=True, callback=url_list,
              help="URL of the evidence (http or https). Repeatable.")
@click.option("--on", type=click.DateTime(["%Y-%m-%d"]), help="Date it was resolved (default: today).")
@click.option("--verdict", help="The verdict as worded by whoever judged it.")
@click.option("--by", "judged_by", type=click.Choice(JUDGES), default="maintainer", show_default=True)
@click.option("--condition", help="Id of a prediction this one requires to come true.")
@content_option
@pass_context
def resolve(ctx, prediction_id, outcome, value, note, sources, on, verdict, judged_by, condition,
            content, resolutions, drafts, base_url):
    """Record the resolution of PREDICTION_ID in its post's resolution file (comments and order kept)."""
    if outcome == "partial" and value is None:
        raise click.UsageError("--outcome partial needs --value between 0 and 1")
    dataset = ctx.dataset(content, resolutions)
    corpus = collect(dataset, drafts, base_url)
    ids = [p.id for p in corpus.predictions]
    if prediction_id not in ids:
        near = difflib.get_close_matches(prediction_id, ids, n=3, cutoff=0.5)
        raise click.BadParameter(f"unknown prediction id {prediction_id!r}" +
                                 (f"; did you mean {', '.join(near)}?" if near else ""), param_hint="PREDICTION_ID")
    folder = dataset.resolutions

    def validate():  # under the file's lock: a file the build would refuse is put back as it was
        pipeline.collect_dataset(dataset, drafts=drafts, base_url=base_url)

    try:
        path = record(folder, prediction_id, outcome, value=value, note=note, sources=sources,
                      on=on.date() if on else None, verdict=verdict, judged_by=judged_by, condition=condition,
                      validate=validate)
    except InputError as e:
        for problem in e.problems:
            click.echo(f"error: {problem}", err=True)
        click.echo(f"{display(resolution_path(folder, prediction_id.split('/')[0]))} left as it was.", err=True)
        sys.exit(1)
    click.echo(f"recorded {prediction_id}: {outcome} in {display(path)}")


@cli.command()
@click.option("--db", "db_path", type=click.Path(exists=True, dir_okay=False),
              help="Database file. Default: the dataset's data.db.")
@click.option("--out", type=click.Path(file_okay=False), help="Folder to write. Default: the dataset's build/. "
              "A new folder, or one an earlier export made (never `.`, a git checkout or another full folder).")
@click.option("--metadata", type=click.Path(exists=True, dir_okay=False),
              help="A metadata.yml merged over the site's (titles and descriptions of tables and columns).")
@click.option("--url", help="Where the dataset is published (the package's homepage and citation URL).")
@click.option("--excel-safe", is_flag=True,
              help="Prefix text cells starting with =, +, -, @ (or a tab or CR) with ' so spreadsheets never run them "
                   "as formulas. The CSV then no longer round-trips exactly (the JSON Lines files still do).")
@click.option("--format", "fmt", type=click.Choice(["package", "fatebook"]), default="package", show_default=True,
              help="package: every table as CSV/JSON Lines with datapackage.json; fatebook: OUT/fatebook.csv for "
                   "Fatebook's spreadsheet import (docs/styles.md).")
@pass_context
def export(ctx, db_path, out, metadata, url, excel_safe, fmt):
    """Write CSV, JSON Lines, datapackage.json and the license for every table and public view into OUT."""
    from .export import FATEBOOK_FILE, export_all, export_fatebook

    dataset = ctx.dataset(db_path=db_path)
    out = Path(out) if out else dataset.build_dir
    if fmt == "fatebook":
        n, others = export_fatebook(dataset.db_path, out)
        click.echo(f"wrote {n} predictions to {display(out / FATEBOOK_FILE)} for Fatebook's spreadsheet import")
    else:
        meta = site_metadata(dataset, dataset.db_path, metadata)
        outputs, _, others = export_all(dataset.db_path, out, meta, url, excel_safe)
        tables = sum(1 for n in outputs if n.endswith(".csv"))
        click.echo(f"wrote {len(outputs)} files ({tables} tables and views as CSV and JSON Lines) to "
                   f"{display(out)}")
    if others:
        click.echo(f"left alone (not written by predictions export): {', '.join(others)}")


@cli.command()
@click.option("--db", "db_path", type=click.Path(dir_okay=False),
              help="Database file (any name). Default: the dataset's data.db.")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8001, show_default=True, type=int)
@click.option("--metadata", type=click.Path(exists=True, dir_okay=False),
              help="A metadata.yml merged over the site's generated metadata.")
@click.option("--get", "get_path", metavar="PATH", help="Print the response to PATH (e.g. /data/scores.json) and exit.")
@content_option
@pass_context
def serve(ctx, db_path, host, port, metadata, get_path, content, resolutions, drafts, base_url):
    """Serve the dataset with Datasette, building it first when missing or older than its sources.

    A database built from other inputs than this dataset's (another --content, another config) is served as it
    is, never rebuilt. A running server notices a rebuilt database and reloads it."""
    from . import serve as site

    dataset = ctx.dataset(content, resolutions, db_path)
    action, why = site.plan(dataset)
    if action == "build":
        click.echo(f"building {display(dataset.db_path)} ({why})", err=True)
        try:
            built = update.build(dataset, drafts=drafts, base_url=base_url)
            click.echo(built.line(), err=True)
        except InputError as e:
            fail(e)
    elif action == "keep":
        click.echo(f"note: {why}", err=True)
    if get_path:
        link, meta = site.prepare(dataset, metadata)
        code, body = site.get(link, meta, get_path)
        click.echo(body, nl=False)
        sys.exit(code)
    click.echo(f"serving http://{host}:{port}/ (Ctrl-C stops)", err=True)
    sys.exit(site.supervise(dataset, metadata, host, port, lambda m: click.echo(m, err=True)))


@cli.command()
@click.option("--db", "db_path", type=click.Path(exists=True, dir_okay=False),
              help="Database file. Default: the dataset's data.db.")
@pass_context
def check(ctx, db_path):
    """Request every page of the site (tables, views, each canned query as HTML and JSON); exit 1 if one fails."""
    from .serve import check_site

    dataset = ctx.dataset(db_path=db_path)
    results = check_site(dataset)
    bad = [(p, s) for p, s in results if s != 200]
    for path, status in bad:
        click.echo(f"error: {path} answered {status}", err=True)
    click.echo(f"{len(results) - len(bad)} of {len(results)} pages answered 200")
    sys.exit(1 if bad else 0)


@cli.command()
@click.option("--db", "db_path", type=click.Path(exists=True, dir_okay=False),
              help="Database file. Default: the dataset's data.db.")
@click.option("--out", type=click.Path(file_okay=False), help="The site folder to write.")
@click.option("--workflow", is_flag=True,
              help=f"Write the GitHub Actions workflow that publishes the dataset on a schedule ({WORKFLOW}).")
@click.option("--site-url", default="https://predictions.fly.dev", show_default=True,
              help="With --workflow: the live site, whose /-/databases.json hash decides whether to deploy.")
@click.option("--package", default="predictions", show_default=True,
              help="With --workflow: what `pip install` installs (a PyPI name, a git URL, a wheel).")
@click.option("--metadata", type=click.Path(exists=True, dir_okay=False),
              help="A metadata.yml merged over the site's generated metadata.")
@click.option("--app", default="predictions", show_default=True, help="The app name in fly.toml.")
@click.option("--url", help="The site's public URL, e.g. https://predictions.fly.dev/ (cited in the data package).")
@click.option("--base-image", "image", help="The Dockerfile's base image pinned by digest, name@sha256:<64 hex digits> "
              "(default: python:3.11-slim at publish.BASE_IMAGE_DIGEST).")
@pass_context
def publish(ctx, db_path, out, workflow, site_url, package, metadata, app, url, image):
    """Prepare a deployable site in OUT (Dockerfile, fly.toml, inspect file); unchanged input, unchanged files.

    With --workflow, write the dataset's GitHub Actions workflow instead."""
    from .publish import MADE_BY, PINNED, PORT, base_image, publish_site

    dataset = ctx.dataset(db_path=db_path)
    if workflow:
        from .workflow import write_workflow

        try:
            click.echo(f"wrote {display(write_workflow(dataset.folder, package, site_url))}")
        except FileExistsError as e:
            raise click.ClickException(str(e)) from None
        return
    if not out:
        raise click.UsageError("--out DIR names the site folder to write (or --workflow for the workflow)")
    if image and not PINNED.match(image):
        raise click.BadParameter("give the image with its digest: name@sha256:<64 hex digits>", param_hint="--base-image")
    meta = site_metadata(dataset, dataset.db_path, metadata)
    changed, others = publish_site(dataset.db_path, out, meta, app, url, image=image)
    if not PINNED.match(base_image(image)):
        click.echo("warning: the Dockerfile's base image is not pinned by digest: set publish.BASE_IMAGE_DIGEST or "
                   "pass --base-image name@sha256:<digest>", err=True)
    if others:
        click.echo(f"left alone (not written by {MADE_BY}, and kept out of the image): {', '.join(others)}")
    if not changed:
        click.echo(f"{out}: up to date (database sha256 unchanged), nothing written")
        return
    click.echo(f"{out}: {len(changed)} file(s) written or removed")
    click.echo(f"deploy: cd {out} && fly deploy")
    click.echo(f"    or: docker build -t predictions {out} && docker run -p {PORT}:{PORT} predictions")


def main():
    cli()
