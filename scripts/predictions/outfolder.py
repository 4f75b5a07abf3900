"""Folders that `predictions export` and `predictions publish` write: only a new folder, or one they made.

A folder they write holds a manifest (MANIFEST) of the files they wrote. They update such a folder, removing
only files their manifest lists; anything else in it is left alone and named. They refuse the current folder
(`.`), a git checkout, a dataset folder (it holds predictions.toml) and any other folder that is not empty.

An export is swapped in whole (``write_folder``): written into a temporary folder beside the target, then
exchanged with it in one rename, so a failed or killed export leaves the previous one as it was.
"""

import ctypes
import errno
import json
import os
import re
import shutil
from pathlib import Path

from .database import pid_alive
from .errors import OutputError

MANIFEST = ".predictions-manifest.json"
IGNORED = {".gitkeep"}  # an otherwise empty folder kept in git is still empty
TEMP = re.compile(r"^\.(?P<name>.+)\.(?P<pid>\d+)\.tmp$")


def manifest(out):
    """The manifest of folder out: {"made_by": ..., "files": [...]}, or None when it has none (or it is unreadable)."""
    try:
        data = json.loads((Path(out) / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or not isinstance(data.get("files"), list):
        return None
    return data


def manifest_bytes(made_by, files):
    return (json.dumps({"made_by": made_by, "files": sorted(files)}, indent=1) + "\n").encode("utf-8")


def check(out, made_by):
    """The files a previous run of `made_by` wrote in out (empty for a new or empty folder); OutputError when
    out is a folder this command must not write into."""
    out = Path(out)
    refuse = f"{made_by} refuses to write into {out}"
    if out.exists() and not out.is_dir():
        raise OutputError(f"{refuse}: it is a file; give --out a new folder")
    if out.resolve() == Path.cwd().resolve():
        raise OutputError(f"{refuse}: it is the current folder; give --out a new folder such as build/")
    if not out.exists():
        return set()
    if (out / ".git").exists():
        raise OutputError(f"{refuse}: it is a git checkout, whose files would be overwritten; give --out a new folder")
    if (out / "predictions.toml").exists():
        raise OutputError(f"{refuse}: it is a dataset folder (it holds predictions.toml); give --out a new folder "
                          "such as build/ inside it")
    found = manifest(out)
    if found is not None:
        if found.get("made_by") != made_by:
            raise OutputError(f"{refuse}: it was written by {found.get('made_by')!r}; give --out another folder")
        return {str(f) for f in found["files"]}
    others = sorted(p.name for p in out.iterdir() if p.name not in IGNORED)
    if others:
        shown = ", ".join(others[:3]) + (f" and {len(others) - 3} more" if len(others) > 3 else "")
        raise OutputError(f"{refuse}: it is not empty ({shown}) and was not made by {made_by} (it has no {MANIFEST}); "
                          "give --out a new or empty folder")
    return set()


def foreign(out, ours):
    """Top-level entries of out that are not ours: left alone (and named to the user, but for IGNORED)."""
    out = Path(out)
    tops = {f.split("/")[0] for f in ours} | {MANIFEST}
    return sorted(p.name for p in out.iterdir() if p.name not in tops) if out.is_dir() else []


def named(entries):
    return [e for e in entries if e not in IGNORED]


def remove_stale(out):
    """Delete temporary folders left beside out by runs that were killed."""
    out = Path(out)
    for p in out.parent.glob(f".{out.name}.*.tmp"):
        m = TEMP.match(p.name)
        if m and m["name"] == out.name and not pid_alive(int(m["pid"])):
            shutil.rmtree(p, ignore_errors=True) if p.is_dir() else p.unlink(missing_ok=True)


def write_folder(out, files, made_by, keep=lambda name: False):
    """Make folder out hold exactly `files` ({name: bytes}) besides the entries that are not ours, atomically;
    files an earlier run wrote that are not in `files` are removed, but those for which keep(name) is true.

    Returns (changed, foreign): whether anything was written, and the entries left alone. Unchanged files keep
    their inode and mtime (hard-linked into the new folder); nothing is written when nothing changed."""
    out = Path(out)
    out = out.resolve() if out.is_symlink() else out  # a link to the folder: write the folder it points to
    ours = check(out, made_by)
    kept = sorted(n for n in ours if n not in files and keep(n) and (out / n).is_file())
    record = manifest_bytes(made_by, [*files, *kept])
    others = foreign(out, ours)
    if out.is_dir() and same(out, files, record):
        return False, named(others)
    out.parent.mkdir(parents=True, exist_ok=True)
    remove_stale(out)
    tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    try:
        tmp.mkdir()
        for name, data in files.items():
            old = out / name
            if name in ours and old.is_file() and not old.is_symlink() and read(old) == data:
                os.link(old, tmp / name)
            else:
                write_durably(tmp / name, data)
        for name in [*kept, *others]:
            link_tree(out / name, tmp / name)
        write_durably(tmp / MANIFEST, record)
        fsync_dir(tmp)
        if out.exists():
            exchange(tmp, out)
            shutil.rmtree(tmp)  # now the previous folder
        else:
            os.rename(tmp, out)
        fsync_dir(out.parent)
    except OSError as e:
        shutil.rmtree(tmp, ignore_errors=True)
        where = f" ({e.filename})" if e.filename else ""
        raise OutputError(f"{made_by} failed: {e.strerror or e}{where}; nothing was changed in {out}") from e
    return True, named(others)


def same(out, files, record):
    return read(out / MANIFEST) == record and all(read(out / n) == d for n, d in files.items())


def read(path):
    try:
        return Path(path).read_bytes()
    except OSError:
        return None


def write_durably(path, data):
    with open(path, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())


def fsync_dir(path):
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def link_tree(src, dest):
    """Hard-link a file or a folder of files (links copied as links) into dest, so it moves with the swap."""
    if src.is_symlink():
        os.symlink(os.readlink(src), dest)
    elif src.is_dir():
        shutil.copytree(src, dest, symlinks=True, copy_function=os.link)
    else:
        os.link(src, dest)


def exchange(a, b):
    """Swap two paths in one step (Linux renameat2 RENAME_EXCHANGE); elsewhere, two renames in a row."""
    renameat2 = getattr(ctypes.CDLL(None, use_errno=True), "renameat2", None)
    if renameat2 is not None:
        at_fdcwd, rename_exchange = -100, 2
        if renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange) == 0:
            return
        err = ctypes.get_errno()
        if err not in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP):
            raise OSError(err, os.strerror(err), str(b))
    aside = Path(a).with_name(Path(a).name + ".old")
    os.rename(b, aside)
    os.rename(a, b)
    os.rename(aside, a)
