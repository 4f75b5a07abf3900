"""Claims files: an author's own calibration tally, transcribed by a maintainer, to set beside the recomputed one.

    # claims/2021-01-29-2020-predictions-reviewed.yml  (named after the post that states the claims)
    post: 2020-05-02-predictions-for-2020    # the forecast post whose verdicts the tally counts
    url: https://blog.urth.org/2021/01/29/2020-predictions-reviewed#summary   # where the author states it
    folding: folded                          # folded (below 50% counted as its negation) | unfolded
    claims:
      - bucket: 60%                          # one stated percent, or a range of them: 0-33%
        frequency: 33%                       # and/or hits: 2, n: 6 (at least one of frequency or hits)

The database keeps each claim (table ``claims``); the view ``claim_comparison`` recomputes n, hits and the
frequency from the same post's resolved predictions and flags a difference (schema.py says how).
"""

import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

import yaml

from .errors import display

FOLDINGS = ("folded", "unfolded")
KEYS = ("post", "url", "folding", "claims")
CLAIM_KEYS = ("bucket", "n", "hits", "frequency")
BUCKET = re.compile(r"^\s*(?P<lo>\d+(?:\.\d+)?)\s*%?\s*(?:(?:-|–|to)\s*(?P<hi>\d+(?:\.\d+)?)\s*%?)?\s*$")
PERCENT = re.compile(r"^\s*~?\s*(?P<num>\d+(?:\.\d+)?)\s*%\s*$")


@dataclass(frozen=True, slots=True)
class Claim:
    id: str
    post_id: str
    stated_in: str
    position: int
    bucket: str
    bucket_low: float
    bucket_high: float
    folding: str
    claimed_n: int | None
    claimed_hits: float | None
    claimed_frequency: float | None
    url: str | None
    path: str
    line: int

    def row(self):
        return {k: getattr(self, k) for k in self.__slots__}


def load_dir(folder, posts, report):
    """Every claim of the *.yml files in folder; posts: the ids of the posts that state forecasts."""
    found = []
    if not folder.is_dir():
        report.error(display(folder), None, "no such claims folder: create it or name another (--claims DIR)")
    for path in sorted(folder.glob("*.yml")) if folder.is_dir() else []:
        found += read_file(path, posts, report)
    return found


def read_file(path, posts, report):
    shown = display(path)
    text = path.read_text(encoding="utf-8-sig")

    def line_of(node):
        return text.count("\n", 0, node.start_mark.index) + 1

    def bad(node, message):
        report.error(shown, line_of(node) if node is not None else None, message)

    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        report.error(shown, mark.line + 1 if mark else None, f"not a valid YAML claims file ({getattr(e, 'problem', e)})")
        return []
    if not isinstance(root, yaml.MappingNode):
        bad(root, "a claims file is a mapping with post:, url:, folding: and claims: (see docs/styles.md)")
        return []
    nodes = {k.value: (k, v) for k, v in root.value}
    for key in sorted(set(nodes) - set(KEYS)):
        bad(nodes[key][0], f"unknown key {key!r} (known: {', '.join(KEYS)})")
    post = scalar(nodes.get("post"))
    if post not in posts:
        bad(nodes["post"][1] if "post" in nodes else root,
            f"post {post!r} is not a post with forecasts: name the forecast post whose verdicts the tally counts")
        return []
    folding = scalar(nodes.get("folding")) or "unfolded"
    if folding not in FOLDINGS:
        bad(nodes["folding"][1], f"folding {folding!r}: write folded (below 50% counted as its negation) or unfolded")
        return []
    items = nodes.get("claims", (None, None))[1]
    if not isinstance(items, yaml.SequenceNode) or not items.value:
        bad(items if items is not None else root, "claims: a list of `- bucket: 60%` entries with frequency or hits")
        return []
    out = []
    for i, node in enumerate(items.value, 1):
        claim = read_claim(node, bad)
        if claim is None:
            continue
        lo, hi, n, hits, freq = claim
        out.append(Claim(f"{path.stem}/{i}", post, path.stem, i, scalar(dict_of(node)["bucket"]), lo, hi, folding, n, hits,
                         freq, scalar(nodes.get("url")), f"{path.parent.name}/{path.name}", line_of(node)))
    return out


def dict_of(node):
    return {k.value: v for k, v in node.value} if isinstance(node, yaml.MappingNode) else {}


def scalar(pair_or_node):
    node = pair_or_node[1] if isinstance(pair_or_node, tuple) else pair_or_node
    return node.value if isinstance(node, yaml.ScalarNode) else None


def read_claim(node, bad):
    """(bucket low, high, n, hits, frequency) of one claim, or None after reporting what is wrong."""
    fields = dict_of(node)
    if not fields:
        bad(node, "a claim is a mapping: bucket: 60%, frequency: 33% (or hits: 2 and n: 6)")
        return None
    for key in sorted(set(fields) - set(CLAIM_KEYS)):
        bad(node, f"unknown claim key {key!r} (known: {', '.join(CLAIM_KEYS)})")
    m = BUCKET.match(scalar(fields.get("bucket")) or "")
    if not m:
        bad(fields.get("bucket", node), "bucket: one stated percent (60%) or a range of them (0-33%)")
        return None
    lo, hi = float(m["lo"]), float(m["hi"] or m["lo"])
    if not 0 <= lo <= hi <= 100:
        bad(fields["bucket"], f"bucket {scalar(fields['bucket'])!r}: its edges go from low to high within 0-100%")
        return None
    freq = None
    try:
        n = int(scalar(fields["n"])) if "n" in fields else None
        hits = float(Decimal(scalar(fields["hits"]))) if "hits" in fields else None
    except (ValueError, InvalidOperation, TypeError):
        bad(node, "n and hits are numbers: n: 6, hits: 2")
        return None
    if "frequency" in fields:
        f = PERCENT.match(scalar(fields["frequency"]) or "")
        if not f or float(f["num"]) > 100:
            bad(fields["frequency"], "frequency: a percent, as the author states it (33% or ~43%)")
            return None
        freq = float(f["num"]) / 100
    if freq is None and hits is None:
        bad(node, "a claim needs frequency (33%) or hits (2, with n: 6)")
        return None
    return lo, hi, n, hits, freq
