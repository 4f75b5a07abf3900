"""Serving a dataset's database with Datasette: decide whether to rebuild, prepare the site, run and reload.

Datasette names a database after its file and every URL of the site uses ``/data``, so the database is served
through a link named ``data.db`` in the dataset's cache folder (``.predictions/site/``), whatever its own name,
beside its generated metadata and inspect file. ``serve`` runs Datasette as a child process and watches the
database: when a build replaces it, the inspect file and metadata are made again and Datasette restarted.
SQL written by visitors (``?sql=``, ``?_where=``) is answered by a second Datasette that the site's starts
(site_settings.SQL_PROCESS_ENV, web/plugins/arbitrary_sql.py), so that a query running to its time limit never
holds up the canned queries and pages.
"""

import hashlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from . import site_settings
from .build import inputs
from .site import find_config
from .sitemeta import site_metadata


def source_files(dataset):
    """Every file the database is built from: the posts, the sites' configs and the resolution files."""
    for source in dataset.sources:
        root = source.content_root(dataset) if source.kind == "blog" else None
        if root is None:
            if source.path and source.path.is_file():
                yield source.path
            continue
        if root.is_dir():
            yield from (p for p in root.rglob("*") if p.is_file())
        config = find_config(root)
        if config:
            yield config
    folder = Path(dataset.resolutions)
    if folder.is_dir():
        yield from (p for p in folder.glob("*.y*ml") if p.is_file())
    if dataset.config_path:
        yield dataset.config_path


def recorded_inputs(db_path):
    """The inputs the database was built from (build_info), or None for a database that does not say."""
    try:
        conn = sqlite3.connect(f"file:{Path(db_path).resolve()}?mode=ro", uri=True)
        try:
            row = conn.execute("SELECT value FROM build_info WHERE key = 'inputs'").fetchone()
        finally:
            conn.close()
    except sqlite3.Error:
        return None
    return json.loads(row[0]) if row and row[0] else None


def plan(dataset):
    """What serve should do before serving: ("build", why), ("serve", why) or ("keep", why it will not rebuild)."""
    db = Path(dataset.db_path)
    if not db.is_file():
        return "build", f"{db.name} does not exist yet"
    recorded, wanted = recorded_inputs(db), inputs(dataset)
    same = ("sources", "resolutions")  # the config file's place is information, not an input of its own
    if recorded is None or any(recorded.get(k) != wanted[k] for k in same):
        was = ", ".join(s["content"] for s in (recorded or {}).get("sources", [])) or "unknown inputs"
        now = ", ".join(s["content"] for s in wanted["sources"]) or "no sources"
        return "keep", (f"{db.name} was built from {was}, not from {now} (this dataset's sources): it is served "
                        "as it is and not rebuilt; run `predictions build` to rebuild it from this dataset")
    built = db.stat().st_mtime
    newer = next((p for p in source_files(dataset) if p.stat().st_mtime > built), None)
    if newer is not None:
        return "build", f"{newer} changed after {db.name} was built"
    return "serve", f"{db.name} is up to date"


def prepare(dataset, metadata):
    """The site folder in the cache: data.db (a link to the database), metadata.json, inspect-data.json.

    Returns (the link, the metadata file)."""
    target = Path(dataset.db_path).resolve()
    # one folder per database served, so that two servers of one dataset never share a link
    folder = dataset.cache_dir / "site" / hashlib.sha256(str(target).encode()).hexdigest()[:12]
    folder.mkdir(parents=True, exist_ok=True)
    link = folder / f"{site_settings.DB_NAME}.db"
    if not (link.is_symlink() and Path(os.readlink(link)) == target):
        tmp = folder / f".link.{os.getpid()}"
        tmp.unlink(missing_ok=True)
        tmp.symlink_to(target)
        os.replace(tmp, link)
    meta = site_metadata(dataset, target, metadata)
    write_if_changed(folder / "metadata.json", (json.dumps(meta, indent=2, ensure_ascii=False) + "\n").encode())
    inspect = site_settings.inspect_path(link)
    if not inspect.is_file() or inspect.stat().st_mtime < target.stat().st_mtime:  # counts of this very file
        subprocess.run(site_settings.inspect_argv(link), check=True, capture_output=True)
    return link, folder / "metadata.json"


def write_if_changed(path, data):
    if not path.exists() or path.read_bytes() != data:
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        tmp.write_bytes(data)
        os.replace(tmp, path)


def stamp(path):
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return None
    return st.st_ino, st.st_mtime_ns, st.st_size


def get(link, metadata, path):
    """`datasette --get PATH` on the prepared site: (exit code, body)."""
    argv = site_settings.serve_argv(link, metadata=metadata) + ["--get", path]
    done = subprocess.run(argv, capture_output=True, text=True)
    return done.returncode, done.stdout + done.stderr


def interrupt(signum, frame):
    raise KeyboardInterrupt


def supervise(dataset, metadata, host, port, echo, poll=1.0):
    """Run Datasette; when the database file is replaced, prepare the site again and restart it.

    SIGTERM and Ctrl-C stop Datasette with it."""
    signal.signal(signal.SIGTERM, interrupt)
    while True:
        link, meta = prepare(dataset, metadata)
        seen = stamp(dataset.db_path)
        child = subprocess.Popen(site_settings.serve_argv(link, host, port, metadata=meta),
                                 env={**os.environ, site_settings.SQL_PROCESS_ENV: "1"})
        try:
            while child.poll() is None:
                time.sleep(poll)
                now = stamp(dataset.db_path)
                if now is not None and now != seen:
                    echo(f"{Path(dataset.db_path).name} was rebuilt: reloading")
                    break
            else:
                return child.returncode
        except KeyboardInterrupt:
            stop(child)
            return 0
        stop(child)
        sys.stdout.flush()


def stop(child):
    """End Datasette: SIGTERM, then SIGKILL if it has not gone within 10 s."""
    child.terminate()
    try:
        child.wait(timeout=10)
    except subprocess.TimeoutExpired:
        child.kill()
        child.wait()


def check_site(dataset, metadata=None):
    """Request every page a reader relies on (home, about, each table and view, each canned query as HTML and
    JSON) from the site in-process; returns [(path, status)] of every request."""
    import asyncio

    from datasette.app import Datasette

    link, meta_path = prepare(dataset, metadata)
    meta = json.loads(meta_path.read_text(encoding="utf-8"))
    db = meta.get("databases", {}).get(site_settings.DB_NAME, {})

    async def run():
        ds = Datasette(**site_settings.datasette_kwargs(link, meta))
        await ds.invoke_startup()
        names = await ds.get_database(site_settings.DB_NAME).table_names()
        names += await ds.get_database(site_settings.DB_NAME).view_names()
        paths = ["/", "/about", f"/{site_settings.DB_NAME}"]
        paths += [f"/{site_settings.DB_NAME}/{n}" for n in names if not n.startswith("predictions_fts")]
        for q in db.get("queries", {}):
            paths += [f"/{site_settings.DB_NAME}/{q}", f"/{site_settings.DB_NAME}/{q}.json?_shape=array"]
        return [(p, (await ds.client.get(p)).status_code) for p in paths]

    return asyncio.run(run())
