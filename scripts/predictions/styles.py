"""Per-source forecast styles: which posts state forecasts in list/table form, which grade them, what marks mean.

A source table of ``predictions.toml`` may hold (docs/styles.md)::

    forecasts = ["posts/*-predictions-for-*.md"]   # posts read with the list/table grammar (statements.py)
    reviews = ["posts/*-predictions-reviewed.md"]   # posts that grade forecasts (grading.py)
    marks = { "Yup" = "right", "Nope" = "wrong", "WTF" = "ambiguous", strikethrough = "did-not-happen" }
    exclude = ["posts/predictions-for-2022.md"]     # posts not read at all (counted and reported)

Globs are matched (``fnmatch``: ``*`` also crosses ``/``) against the post's path relative to the source's
content folder, with forward slashes. ``exclude`` wins over ``reviews``, which wins over ``forecasts``.
"""

from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from pathlib import Path

from .errors import InputError, Problem

KEYS = ("forecasts", "reviews", "marks", "exclude")
MARKUPS = ("strikethrough", "bold", "italic", "plain")
MEANINGS = ("happened", "did-not-happen", "right", "wrong", "void", "ambiguous")


@dataclass(frozen=True)
class Style:
    forecasts: tuple = ()
    reviews: tuple = ()
    exclude: tuple = ()
    marks: dict = field(default_factory=dict)  # mark (a markup name, or a word, phrase or emoji) -> meaning

    @classmethod
    def from_config(cls, mapping, where):
        """A Style from a source table's raw keys; InputError naming `where` (the file and source) if wrong."""
        problems = []

        def bad(message):
            problems.append(Problem(str(where), None, message))

        mapping = dict(mapping or {})
        for key in sorted(set(mapping) - set(KEYS)):
            bad(f"unknown style key {key!r} (known: {', '.join(KEYS)})")
        globs = {}
        for key in ("forecasts", "reviews", "exclude"):
            value = mapping.get(key, [])
            if isinstance(value, str):
                value = [value]
            if not isinstance(value, list) or not all(isinstance(g, str) and g.strip() for g in value):
                bad(f"{key} must be a list of globs of post paths, e.g. {key} = [\"posts/*predictions*.md\"]")
                value = []
            globs[key] = tuple(g.strip().lstrip("/") for g in value)
        marks = mapping.get("marks", {})
        if not isinstance(marks, dict):
            bad('marks must be a table of mark = meaning, e.g. marks = { "Yup" = "right", strikethrough = "wrong" }')
            marks = {}
        for mark, meaning in marks.items():
            if not mark.strip():
                bad("marks: an empty mark: write the word, phrase or emoji the author uses, or a markup "
                    f"({', '.join(MARKUPS)})")
            if meaning not in MEANINGS:
                bad(f"marks: {mark!r} = {meaning!r} is not a meaning: use one of {', '.join(MEANINGS)}")
        if globs["reviews"] and not marks:
            bad("reviews are named but no marks: say what each grading mark means, e.g. marks = { \"Yup\" = \"right\" }")
        if problems:
            raise InputError(problems)
        return cls(globs["forecasts"], globs["reviews"], globs["exclude"], dict(marks))

    def role(self, rel_path):
        """"exclude", "reviews", "forecasts" or None (read as today) for a post path under the content folder."""
        for role, globs in (("exclude", self.exclude), ("reviews", self.reviews), ("forecasts", self.forecasts)):
            if any(fnmatchcase(rel_path, g) for g in globs):
                return role
        return None

    @property
    def words(self):
        """The marks that are words, phrases or emoji (not markups)."""
        return {k: v for k, v in self.marks.items() if k not in MARKUPS}


def outcome(meaning, percent):
    """The outcome (did the statement happen) that a mark's meaning gives a forecast stated at percent.

    `right`/`wrong` grade the forecast's call: above 50% the call was "it happens", below 50% "it does not";
    at exactly 50% the bloggers' convention counts right when the statement happened."""
    if meaning == "happened":
        return "true"
    if meaning == "did-not-happen":
        return "false"
    if meaning in ("right", "wrong"):
        called_yes = percent >= 50
        return "true" if called_yes == (meaning == "right") else "false"
    return meaning  # void, ambiguous


def parse_all(styles):
    """{resolved content root: Style} from build.collect's `styles` (raw dicts or Styles); InputError if wrong."""
    out, problems = {}, []
    for root, raw in (styles or {}).items():
        try:
            out[Path(root).resolve()] = raw if isinstance(raw, Style) else Style.from_config(raw, f"styles of {root}")
        except InputError as e:
            problems += e.problems
    if problems:
        raise InputError(problems)
    return out
