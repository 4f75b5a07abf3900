"""`predictions resolve`: record a resolution in the post's resolution file, keeping its comments and order."""

import datetime as dt
import os
from pathlib import Path

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq

HEADER = "# Resolutions for {post}: one entry per prediction id (see README, 'Resolving a prediction').\n"


def record(folder, prediction_id, outcome, value=None, note=None, sources=(), on=None, verdict=None,
           judged_by="maintainer", condition=None):
    """Write (or replace) the entry for prediction_id in <folder>/<post>.yml; returns the file's path."""
    post = prediction_id.split("/")[0]
    path = Path(folder) / f"{post}.yml"
    yaml = YAML()  # round-trip: comments, key order and quoting are kept
    yaml.indent(mapping=2, sequence=4, offset=2)
    yaml.width = 100
    if path.exists():
        data = yaml.load(path.read_text(encoding="utf-8")) or CommentedMap()
    else:
        path.parent.mkdir(parents=True, exist_ok=True)
        data = yaml.load(HEADER.format(post=post) + "resolutions: {}\n")
    if data.get("resolutions") is None:
        data["resolutions"] = CommentedMap()
    entries = data["resolutions"]
    entry = entries.get(prediction_id)
    if not isinstance(entry, CommentedMap):
        entry = entries[prediction_id] = CommentedMap()
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
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")  # written whole, then renamed over the file:
    try:  # a crash leaves the old file or the new one, never half of it
        with tmp.open("w", encoding="utf-8") as f:
            yaml.dump(data, f)
            f.flush()
            os.fsync(f.fileno())
        if path.exists():
            os.chmod(tmp, path.stat().st_mode)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path
