"""`predictions resolve`: record a resolution in the post's resolution file, keeping its comments and order.

Only the entry being resolved is rewritten: every other line of the file stays byte for byte as it was. Writers
are serialised by a lock file beside the resolution file (``.<post>.yml.lock``), and the file is read again
under the lock, so two `resolve` runs at once never lose an entry. A resolution file that is a symbolic link is
updated where it points (the link stays). The new file is written whole and renamed over the old one.
"""

import contextlib
import datetime as dt
import fcntl
import io
import os
from pathlib import Path

import yaml as pyyaml
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq

from .errors import OutputError

HEADER = "# Resolutions for {post}: one entry per prediction id (see README, 'Resolving a prediction').\n"
WIDTH = 4096  # never fold a long value (a URL) onto the next line


def resolution_path(folder, post):
    """The post's resolution file: <post>.yml, or <post>.yaml when only that one exists."""
    yml, yaml = Path(folder) / f"{post}.yml", Path(folder) / f"{post}.yaml"
    return yaml if os.path.lexists(yaml) and not os.path.lexists(yml) else yml


def record(folder, prediction_id, outcome, value=None, note=None, sources=(), on=None, verdict=None,
           judged_by="maintainer", condition=None, validate=None):
    """Write (or replace) the entry for prediction_id in the post's resolution file; returns the file's path.

    ``validate()``, when given, runs after the write while the file is still locked; if it raises, the file is
    put back as it was and the exception goes on. A file that cannot be written raises OutputError."""
    post = prediction_id.split("/")[0]
    path = resolution_path(folder, post)
    target = write_target(path)

    def change(entry):
        fill(entry, outcome, value, note, sources, on, verdict, judged_by, condition)

    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        with locked(target):
            before = target.read_bytes() if target.exists() else None
            text = before.decode("utf-8-sig") if before is not None else HEADER.format(post=post) + "resolutions: {}\n"
            replace(target, updated(text, prediction_id, change).encode("utf-8"))
            try:
                if validate:
                    validate()
            except BaseException:
                replace(target, before) if before is not None else target.unlink()
                raise
    except OSError as e:
        raise OutputError(f"cannot write {path} ({e.strerror or e}{', ' + str(e.filename) if e.filename else ''}); "
                          "it was left as it was") from e
    return path


def write_target(path):
    """The file to write: path itself, or the file a symbolic link points to (refused when it points nowhere)."""
    if not path.is_symlink():
        if path.exists() and not path.is_file():
            raise OutputError(f"{path} is not a regular file (a folder, a pipe?): move it away, then resolve again")
        return path
    target = path.resolve()
    if not target.is_file():
        raise OutputError(f"{path} is a link to {target}, which is not a file: fix or remove the link")
    return target


@contextlib.contextmanager
def locked(path):
    """Hold an exclusive lock on the lock file beside path (other `resolve` runs wait for it)."""
    fd = os.open(path.with_name(f".{path.name}.lock"), os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock


def replace(path, data):
    """Write data to a temporary file beside path and rename it over path: a crash leaves one or the other."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with tmp.open("wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        if path.exists():
            os.chmod(tmp, path.stat().st_mode)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def fill(entry, outcome, value, note, sources, on, verdict, judged_by, condition):
    entry["outcome"] = {"true": True, "false": False}.get(outcome, outcome)
    if outcome == "partial":
        entry["value"] = value
    else:
        entry.pop("value", None)
    if outcome == "open":
        entry.pop("resolved_on", None)
    else:
        entry["resolved_on"] = on or dt.date.today()
    for key, val in (("verdict", verdict), ("note", note), ("condition", condition)):
        if val:
            entry[key] = val
    entry["judged_by"] = judged_by
    if sources:
        evidence = entry.get("evidence")
        if not isinstance(evidence, CommentedSeq):
            evidence = entry["evidence"] = CommentedSeq()
        known = {e.get("url") if isinstance(e, dict) else e for e in evidence}
        for url in sources:
            if url not in known:
                item = CommentedMap()
                item["url"] = url
                evidence.append(item)


def round_trip():
    yaml = YAML()  # round-trip: comments, key order and quoting are kept
    yaml.indent(mapping=2, sequence=4, offset=2)
    yaml.width = WIDTH
    return yaml


def dump(yaml, data):
    buf = io.StringIO()
    yaml.dump(data, buf)
    return buf.getvalue()


def updated(text, prediction_id, change):
    """The file's new text: the entry for prediction_id changed by change(entry), every other line as it was."""
    yaml = round_trip()
    data = yaml.load(text)
    if not isinstance(data, CommentedMap):
        data = CommentedMap()
    if data.get("resolutions") is None:
        data["resolutions"] = CommentedMap()
    entries = data["resolutions"]
    existed = prediction_id in entries
    entry = entries.get(prediction_id)
    if not isinstance(entry, CommentedMap):
        entry = entries[prediction_id] = CommentedMap()
    change(entry)
    entry.fa.set_block_style()  # ruamel writes some flow mappings it cannot read back (`{note: Why? This.}`)
    whole = dump(yaml, data)
    spliced = splice(text, data, prediction_id, existed, yaml)
    if spliced is not None and same_data(spliced, whole):
        return spliced
    return whole  # a layout the splice cannot follow (a flow mapping, an empty file): the whole file is written


def same_data(a, b):
    try:
        return pyyaml.safe_load(a) == pyyaml.safe_load(b)
    except pyyaml.YAMLError:
        return False


def splice(text, data, prediction_id, existed, yaml):
    """The original text with only the lines of prediction_id's entry replaced (or a new entry added at the end
    of `resolutions:`); None when the layout is not a block mapping with line information."""
    entries = data["resolutions"]
    keys = list(entries)
    try:
        if entries.fa.flow_style():
            return None
        col = entries.lc.key(keys[0])[1]
        lines = text.splitlines(keepends=True)
        end = block_end(data, len(lines))
        if existed:
            i = keys.index(prediction_id)
            start = entries.lc.key(prediction_id)[0]
            if i + 1 < len(keys):
                end = entries.lc.key(keys[i + 1])[0]
        else:
            start = end
    except (AttributeError, KeyError, TypeError, ValueError):
        return None
    one = CommentedMap()
    one[prediction_id] = entries[prediction_id]
    piece = "".join(" " * col + line if line.strip() else line for line in dump(yaml, one).splitlines(keepends=True))
    head = "".join(lines[:start])
    if head and not head.endswith("\n"):
        head += "\n"
    return head + piece + "".join(lines[end:])


def block_end(data, n_lines):
    """The line where the `resolutions:` block ends: the next top-level key's, or the end of the file."""
    keys = list(data)
    i = keys.index("resolutions")
    return data.lc.key(keys[i + 1])[0] if i + 1 < len(keys) else n_lines
