"""Resolution files: hand-kept YAML, one per forecast post, validated with file and line for every entry.

    # datasets/published-forecasts/resolutions/predictions-2025.yml
    resolutions:
      predictions-2025/lighting-round/2:
        outcome: true            # true | false | partial | void | ambiguous | open
        value: 0.5               # partial only: how much of it happened, 0..1
        resolved_on: 2025-12-23
        verdict: Correct         # as worded by whoever judged it
        note: Graded together with the 70% clause.
        judged_by: maintainer    # author | maintainer | third party
        evidence:
          - url: https://...
            title: Year in Review - 2025
        condition: predictions-2025/...   # this prediction requires that one to come true

"Outcome" is whether the statement as written happened, never whether the forecaster was right.
"""

import datetime as dt
import difflib
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from .errors import display
from .posts import MAX_BYTES
from .schema import OUTCOMES

VALUES = {"true": 1.0, "false": 0.0}
JUDGES = ("author", "maintainer", "third party")
EXTENSIONS = (".yml", ".yaml")
FIELDS = ("outcome", "value", "resolved_on", "verdict", "note", "judged_by", "evidence", "condition")


@dataclass(frozen=True, slots=True)
class Evidence:
    url: str
    title: str | None = None


@dataclass(slots=True)
class Resolution:
    prediction_id: str
    outcome: str
    value: float | None = None
    resolved_on: dt.date | None = None
    verdict: str | None = None
    note: str | None = None
    judged_by: str | None = None
    source: str = "file"
    source_path: str | None = None
    source_line: int | None = None
    review_post_id: str | None = None
    review_url: str | None = None
    evidence: list = field(default_factory=list)
    kept: int | None = None  # a build keeps its row and evidence in a temporary table (build.Rows): their key there

    def row(self):
        return dict(
            prediction_id=self.prediction_id, outcome=self.outcome, value=self.value,
            resolved_on=self.resolved_on.isoformat() if self.resolved_on else None, verdict=self.verdict,
            note=self.note, judged_by=self.judged_by, source=self.source, source_path=self.source_path,
            source_line=self.source_line, review_post_id=self.review_post_id, review_url=self.review_url,
        )


class FileReader:
    """Reads one resolution file into Resolutions, reporting each bad entry at its line."""

    def __init__(self, path, known, report):
        self.path, self.known, self.report = path, known, report
        self.rel = f"{path.parent.name}/{path.name}"  # as stored; messages show the path as given

    def error(self, node, message):
        self.report.error(display(self.path), self.line(node.start_mark) if node is not None else None, message)

    def line(self, mark):
        """The file's line of a YAML mark, counting "\n" as the user's editor does (YAML also breaks lines at
        NEL and the Unicode line and paragraph separators)."""
        return self.text.count("\n", 0, mark.index) + 1

    def read(self):
        self.text = ""
        data = self.read_bytes()
        if data is None:
            return {}, {}
        try:
            self.text = data.decode("utf-8-sig")
            root = yaml.compose(self.text, Loader=yaml.SafeLoader)
        except (yaml.YAMLError, UnicodeDecodeError, RecursionError) as e:
            e = "nested too deeply" if isinstance(e, RecursionError) else e
            mark = getattr(e, "problem_mark", None)
            self.report.error(display(self.path), self.line(mark) if mark else None,
                              f"not a valid YAML resolution file ({getattr(e, 'problem', e)}): fix the syntax")
            return {}, {}
        if root is None:
            return {}, {}
        entries = self.mapping(root, "the file")
        if entries is None:
            return {}, {}
        body = entries.get("resolutions")
        if body is None:
            self.error(root, "no `resolutions:` mapping: write `resolutions:` and one entry per prediction id")
            return {}, {}
        found, conditions = {}, {}
        items = self.mapping(body[1], "`resolutions`", pairs=True) or []
        for key_node, value_node in items:
            pid = key_node.value
            if pid in found:
                self.error(key_node, f"{pid} is resolved twice in this file (also line {found[pid][1]}): keep one entry")
                continue
            if pid not in self.known:
                near = difflib.get_close_matches(pid, list(self.known), n=3, cutoff=0.5)
                hint = f"did you mean {', '.join(near)}?" if near else "run `predictions lint` to list the ids"
                self.error(key_node, f"unknown prediction id {pid!r}: {hint}")
                continue
            entry = self.entry(pid, key_node, value_node, conditions)
            if entry:
                found[pid] = (entry, self.line(key_node.start_mark))
        return {pid: r for pid, (r, _) in found.items()}, conditions

    def read_bytes(self):
        """The file's bytes, or None (reported) for what is not a regular file of at most MAX_BYTES."""
        shown = display(self.path)
        try:
            if not self.path.is_file():  # a pipe would block the build forever; a folder cannot be read
                self.report.error(shown, None, "not a regular file (a folder, a pipe or a broken link?): remove it or "
                                  "rename it so it does not end in .yml")
                return None
            size = self.path.stat().st_size  # checked before reading, so a huge file is never loaded
            data = self.path.read_bytes() if size <= MAX_BYTES else None
        except OSError as e:
            self.report.error(shown, None, f"cannot read the file ({e.strerror or e}): check its permissions")
            return None
        if data is None or len(data) > MAX_BYTES:
            size = size if data is None else len(data)
            self.report.error(shown, None, f"file is {size:,} bytes, over the {MAX_BYTES:,}-byte limit for a resolution "
                              "file: shorten its notes (link to long evidence instead)")
            return None
        return data

    def mapping(self, node, what, pairs=False):
        if not isinstance(node, yaml.MappingNode):
            self.error(node, f"{what} must be a mapping of `key: value` lines")
            return None
        seen, kept = {}, []
        for k, v in node.value:
            if not isinstance(k, yaml.ScalarNode):
                self.error(k, f"{what} has a key that is a list or mapping: write `name: value` lines")
                continue
            if not pairs and k.value in seen:
                self.error(k, f"key {k.value!r} is written twice: keep one")
            seen[k.value] = (k, v)
            kept.append((k, v))
        return kept if pairs else seen

    def entry(self, pid, key_node, node, conditions):
        fields = self.mapping(node, f"the entry for {pid}")
        if fields is None:
            return None
        for name, (k, _) in fields.items():
            if name not in FIELDS:
                self.error(k, f"unknown field {name!r} for {pid}: use {', '.join(FIELDS)}")
            elif name != "evidence" and not isinstance(fields[name][1], yaml.ScalarNode):
                self.error(k, f"`{name}` of {pid} must be a single value, not a list or mapping")
                return None
        line = self.line(key_node.start_mark)
        r = Resolution(prediction_id=pid, outcome="open", source="file", source_path=self.rel, source_line=line)
        if "condition" in fields:
            cnode = fields["condition"][1]
            if cnode.value not in self.known:
                self.error(cnode, f"condition {cnode.value!r} of {pid} is not a known prediction id")
            else:
                conditions[pid] = cnode.value
        if "outcome" not in fields:
            if "condition" in fields and len(fields) == 1:
                return None
            self.error(key_node, f"{pid} has no outcome: add `outcome:` ({' | '.join(OUTCOMES)})")
            return None
        onode = fields["outcome"][1]
        r.outcome = str(onode.value).lower()
        if r.outcome not in OUTCOMES:
            self.error(onode, f"unknown outcome {onode.value!r} for {pid}: use one of {', '.join(OUTCOMES)}")
            return None
        r.value = VALUES.get(r.outcome)
        if r.outcome == "partial":
            r.value = self.partial_value(pid, key_node, fields)
            if r.value is None:
                return None
        elif "value" in fields:
            self.error(fields["value"][0], f"`value` is only for a partial outcome ({pid} is {r.outcome})")
        if "resolved_on" in fields:
            dnode = fields["resolved_on"][1]
            try:
                r.resolved_on = dt.date.fromisoformat(str(dnode.value))
            except ValueError:
                self.error(dnode, f"resolved_on {dnode.value!r} of {pid} is not a date: write YYYY-MM-DD")
        for name in ("verdict", "note"):
            if name in fields:
                setattr(r, name, str(fields[name][1].value).strip() or None)
        if "judged_by" in fields:
            jnode = fields["judged_by"][1]
            if jnode.value not in JUDGES:
                self.error(jnode, f"judged_by {jnode.value!r} of {pid}: use one of {', '.join(JUDGES)}")
            r.judged_by = jnode.value
        if "evidence" in fields:
            r.evidence = self.evidence(pid, fields["evidence"][1])
        return r

    def partial_value(self, pid, key_node, fields):
        if "value" not in fields:
            self.error(key_node, f"{pid} is partial but has no value: add `value:` between 0 and 1")
            return None
        vnode = fields["value"][1]
        try:
            value = float(vnode.value)
        except ValueError:
            value = None
        if value is None or not 0 <= value <= 1:
            self.error(vnode, f"value {vnode.value!r} of {pid} must be a number between 0 and 1")
            return None
        return value

    def evidence(self, pid, node):
        items = node.value if isinstance(node, yaml.SequenceNode) else [node]
        found = []
        for item in items:
            if isinstance(item, yaml.ScalarNode):
                found.append(Evidence(item.value))
            elif isinstance(item, yaml.MappingNode) and all(isinstance(n, yaml.ScalarNode) for kv in item.value for n in kv):
                d = {k.value: v.value for k, v in item.value}
                if not d.get("url"):
                    self.error(item, f"evidence of {pid} needs a `url:`")
                    continue
                found.append(Evidence(d["url"], d.get("title")))
            else:
                self.error(item, f"evidence of {pid} must be URLs, or `url:`/`title:` pairs")
        return found


def load_dir(folder, known, posts, report):
    """Resolutions and conditions from every <post>.yml (or .yaml) in the folder; files for posts not built, and
    files that are not .yml/.yaml, are skipped with a warning. A post with two files, and a prediction resolved
    in two files, are errors."""
    resolutions, conditions, seen = {}, {}, {}
    for path in resolution_files(folder, report):
        if path.stem not in posts:
            report.warn("resolution-file-skipped", display(path), None,
                        f"no post {path.stem!r} in this build: resolution file skipped")
            continue
        found, conds = FileReader(path, known, report).read()
        for pid, r in found.items():
            if pid in seen:
                report.error(display(path), r.source_line, f"{pid} is also resolved in {seen[pid]}: keep one entry")
                continue
            seen[pid] = f"{display(path)}:{r.source_line}"
            resolutions[pid] = r
        conditions.update(conds)
    return resolutions, conditions


def resolution_files(folder, report):
    """The folder's resolution files, one per post, sorted; hidden files (lock files, editors' swap files) are
    left out, other names are skipped with a warning."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    files = {}
    for path in sorted(folder.iterdir()):
        if path.name.startswith("."):
            continue
        if path.suffix not in EXTENSIONS:
            report.warn("resolution-file-skipped", display(path), None,
                        f"not a resolution file (only {' and '.join(EXTENSIONS)} files are read): skipped")
        elif path.stem in files:
            report.error(display(path), None, f"{files[path.stem].name} also holds the resolutions of {path.stem!r}: "
                         "keep one file per post (merge them)")
        else:
            files[path.stem] = path
    return list(files.values())


def merge(from_reviews, from_files, conditions, report):
    """File entries override review verdicts (disagreements are warned); failed conditions void. Returns
    from_reviews, updated (a build's dict of tens of thousands is not copied)."""
    merged = from_reviews
    for pid, r in from_files.items():
        old = merged.get(pid)
        if old and (old.outcome, old.value) != (r.outcome, r.value):
            report.warn("override", r.source_path, r.source_line,
                        f"{pid}: resolution file says {r.outcome}, overriding the review's {old.outcome} "
                        f"({old.verdict!r}, {old.source_path}:{old.source_line})")
        if old and r.review_url is None:
            r.review_post_id, r.review_url = old.review_post_id, old.review_url
        merged[pid] = r
    for pid, cond in conditions.items():
        c = merged.get(cond)
        if c and c.outcome == "false":
            merged[pid] = Resolution(
                prediction_id=pid, outcome="void", resolved_on=c.resolved_on, verdict="condition failed",
                note=f"Void: it requires {cond}, which resolved false.", judged_by="maintainer",
                source="condition", source_path=c.source_path, source_line=c.source_line,
            )
    return merged
