"""Deterministic synthetic blog corpus in the conventions of the real forecast posts.

Writes DIR/hugo.yaml, DIR/content/blog/<slug>/index.md (forecast posts "Predictions YYYY", their
"Year in Review" posts, plain articles) and DIR/expected.json: every forecast in document order
(posts sorted by slug): post, section, percent, probability_text, kind (headline | list_item | note),
line (of the marker), outcome (true | false | open | null if ungraded), verdict and review slug.
Stdlib only; the same --posts/--seed always gives byte-identical output.

    .venv/bin/python benchmarks/synth.py --posts 1000 --seed 1 --out /tmp/synth
"""

import argparse
import json
import random
import shutil
import time
from pathlib import Path

BASE_URL = "https://synthetic.example.org/"
YEARS = range(2015, 2027)
PCTS = (5, 10, 15, 20, 25, 30, 35, 40, 50, 60, 65, 70, 75, 80, 85, 90, 95, 99, 100)
LIGHTNING = "Lightning Round"


def _split(text):
    return text.replace("\n", "").split("|")


TOPICS = _split("""Agents, agents, agents|Inference-time compute|Multimodal-first training|The Rise of China|
The Supply Chain Squeeze|Speaking of Power|Smaller Better Faster Stronger|Continued Learning|Architectural Shifts|
Open Weights|Synthetic Data|Regulation|Copyright Reckoning|On-device Models|The Evaluation Crisis|Robotics|
Coding Assistants|Search Disruption|Hardware Wars|Pricing Pressure|Memory and Context|Tool Use|Safety Research|
Enterprise Adoption|Education|Healthcare|Video Generation|Voice Interfaces|Scientific Discovery|Compute Clusters|
Talent Wars|Funding|Consolidation|Sovereign AI|Interpretability|Long Context|Retrieval|Fine-tuning|Quantization|
Personal Assistants|Open Source Tooling|Alignment|Deepfakes|Elections|The Labor Market|Agents, Cont'd""")
GROUPS = ["Technical Paradigm Shifts", "Industry Dynamics", "Society and Policy", "Research Directions"]
SUBJECTS = _split("""At least one frontier lab|An open-weights model|A Chinese lab|OpenAI and/or Anthropic|Google|Meta|
Apple|Microsoft|NVIDIA|A major cloud provider|Most Fortune 500 companies|The EU|US regulators|A seed-stage startup|
Hugging Face|A consumer AI platform|Coding agents|Small language models|Text diffusion models|A robotics company""")
VERBS = _split("""release a model with continual learning|put ads into a chat interface|
top the leaderboard on a major coding benchmark|go public|abandon its open-weights initiative|
report training energy in kWh instead of parameter count|run GPT-4-class capabilities on a phone|
standardize on a single agent protocol|be fined over training-data copyright|
cut inference prices by an order of magnitude|announce a custom accelerator|claim to have reached AGI|
replace tokenizers with byte-level inputs|ship agents that run unattended for a full workday|
open-source its flagship model weights|be acquired|train mostly on synthetic data|lose a landmark court case|
ship a unified multimodal architecture|publish a reproducible evaluation harness""")
WHEN = ["in {y}", "by the end of {y}", "before Q3 {y}", "during {y}", "before {y} is out"]
BUTS = _split("""the gains will come from post-training rather than scale|adoption will lag in regulated industries|
most of the revenue will go to cloud providers and not to chip makers|the open models will trail by six months|
the savings will be eaten by longer reasoning traces""")
WITHS = _split("""with at least one public outage blamed on it|
with AI datacenters associated with brownouts or wildfires|with a congressional hearing devoted to it|
with a measurable effect on consumer electricity prices|
with a backlash large enough to reverse the decision""")
FACTS = [
    "{n}% of surveyed models already support structured outputs.",
    "Last year roughly {n}% of new releases shipped with open weights.",
    "Benchmark scores rose {n}% year over year, but most of that gain came from post-training.",
    "Inference costs fell by about {n}% over the past twelve months.",
    "In a poll of {k} practitioners, {n}% said they already run agents in production.",
    "Training runs now spend {n}% of their compute on reinforcement learning.",
    "The probability mass on the top token shifts by {n}% after fine-tuning.",
    "Data centers drew {n}% more power than the year before.",
]
NOUNS = ["Performance Improvement", "Cheaper Inference", "Uptime Is Not Enough", "Fewer Parameters", "Market Share"]
DOMAINS = ["arxiv.org/abs", "epoch.ai/blog", "newsletter.semianalysis.com/p", "huggingface.co/blog", "apnews.com/p"]
WORDS = _split("scaling|memory|agents|power|dram|diffusion|distill|eval|bench|lora|rl|moe|tokens|ads|chips")
TAGS = ["agents", "arxiv", "generative AI", "LLMs", "evals", "RAG", "hardware", "policy", "robotics", "open source"]
NAMES = {"Google", "Meta", "Apple", "Microsoft", "Hugging"}
AUTHOR_URL = BASE_URL + "authors/author-{a}/"


def low(text):
    """Lower-case a sentence's first letter for use mid-sentence, leaving names (OpenAI, NVIDIA, Google) alone."""
    word = text.split(" ", 1)[0]
    return text if word in NAMES or any(c.isupper() for c in word[1:]) else text[0].lower() + text[1:]


class Post:
    """Lines of one Markdown file; `line` is the 1-based number the next added line gets."""

    def __init__(self):
        self.lines = []

    @property
    def line(self):
        return len(self.lines) + 1

    def add(self, *blocks):
        for block in blocks:
            self.lines.extend(block.split("\n"))
            self.lines.append("")

    def text(self):
        return "\n".join(self.lines).rstrip("\n") + "\n"


def front_matter(title, date, authors, tags, series=(), draft=False):
    people = "".join(
        f"\n  - name: Author {a}\n    link: {AUTHOR_URL.format(a=a)}\n    image: {BASE_URL}images/author-{a}.png"
        for a in authors
    )
    groups = "".join(f"\n  # {g}" + "".join(f"\n  - {t}" for t in ts) for g, ts in tags)
    series = "".join(f"\n  - {s}" for s in series) or " []"
    return (
        f"---\ntitle: {title}\ndate: {date}\nauthors:{people}\ntags:{groups}\nseries:{series}\n"
        f"layout: single\ntoc: true\nmath: false\ndraft: {'true' if draft else 'false'}\n---"
    )


class Synth:
    def __init__(self, seed):
        self.r = random.Random(seed)
        self.used = set()

    def pct(self):
        p = self.r.choice(PCTS)
        return p, ("50/50" if p == 50 and self.r.random() < 0.4 else f"{p}%")

    def claim(self, year):
        """A claim not yet used in the current post: real authors don't predict the same thing twice."""
        r = self.r
        while True:
            claim = f"{r.choice(SUBJECTS)} will {r.choice(VERBS)} {r.choice(WHEN).format(y=year)}"
            if claim not in self.used:
                self.used.add(claim)
                return claim

    def fact(self):
        return self.r.choice(FACTS).format(n=self.r.randint(2, 98), k=self.r.randint(50, 900))

    def link(self):
        r = self.r
        word = r.choice(WORDS)
        url = f"https://{r.choice(DOMAINS)}/{word}-{r.randint(1000, 99999)}"
        return f"{word.title()} report {r.randint(1, 999)}", url

    def cite(self, notes):
        if notes and self.r.random() < 0.3:
            return f" [^{self.r.choice(list(notes))}]"  # cite an existing footnote again
        key = f"{self.r.choice(WORDS)}{len(notes) + 1}"
        notes[key] = self.link()
        return f" [^{key}]"

    def passage(self, claim, notes):
        n, k = self.r.randint(2, 98), self.r.randint(50, 900)
        sentences = [f.format(n=n, k=k) for f in self.r.sample(FACTS, self.r.randint(1, 3))]
        if self.r.random() < 0.6:
            sentences[-1] = sentences[-1][:-1] + self.cite(notes) + "."
        return "\n".join([*sentences, f"I expect that {low(claim)}."])

    def outcome(self, p):
        """Did the event happen? Imperfect calibration: P(true) = 0.5 + 0.7 * (p - 0.5)."""
        return self.r.random() < 0.5 + 0.7 * (p / 100 - 0.5)

    def table(self):
        rows = [f"| model-{i} | {self.r.uniform(30, 90):.1f}% | {self.r.uniform(30, 90):.1f}% | "
                f"{self.r.uniform(-20, 40):+.1f}% |" for i in range(self.r.randint(2, 4))]
        return "\n".join(["| Model | Baseline | Tuned | Change (%) |", "| ----- | ---: | ---: | ---: |", *rows])

    def forecast(self, slug, year, authors, tags):
        """One forecast post; returns (markdown, predictions) with claims kept for the review."""
        r, doc, preds, notes = self.r, Post(), [], {}
        self.used = set()
        by = ", ".join(f"Author {a}" for a in authors)
        doc.add(front_matter(f"Predictions {year} ({by})", f"{year}-01-0{r.randint(1, 7)}", authors, tags),
                "<!-- markdownlint-disable-file MD036 -->",
                f"Here are my predictions for {year} along with my certainty / probability estimates.\n"
                f"Last year about {r.randint(40, 80)}% of my calls held up.")

        def mark(kind, section, level, claim, pct, text, line, **extra):
            preds.append(dict(post=slug, section=section, level=level, kind=kind, percent=pct,
                              probability_text=text, line=line, claim=claim, **extra))

        topics = r.sample(TOPICS, 8)
        n_head = r.randint(2, 4)
        group_at = r.randrange(n_head - 1) if r.random() < 0.6 else -1
        double_at, note_at, trap_at = r.randrange(n_head), r.randrange(n_head), r.randrange(n_head)
        for i in range(n_head):
            if i == trap_at:
                doc.add(f"## {r.choice((20, 30, 40, 60, 80))}% {r.choice(NOUNS)}", self.fact() + "\n" + self.fact(),
                        self.table())
            heads = [(2, topics[i])]
            parent = None
            if i == group_at:  # an H2 without a marker holding two H3 forecasts
                parent = r.choice(GROUPS)
                doc.add(f"## {parent}", self.fact())
                heads = [(3, topics[i]), (3, topics[7])]
            for level, head in heads:
                (p, text), p2 = self.pct(), None
                if p == 50 and text == "50/50" and level == 2:
                    head = f"50/50: {head}"
                claim = self.claim(year)
                doc.add("#" * level + " " + head, self.passage(claim, notes))
                mark("headline", head, level, claim, p, text, doc.line, parent=parent)
                doc.add(f"_Probability: {text}_")
                if i == double_at and r.random() < 0.6:  # second marker, distinct percent
                    p2 = r.choice([x for x in PCTS if x != p])
                    claim2 = self.claim(year)
                    doc.add(self.passage(claim2, notes))
                    mark("headline", head, level, claim2, p2, f"{p2}%", doc.line, parent=parent)
                    doc.add(f"_Probability: {p2}%_")
                elif r.random() < 0.3:
                    doc.add(f"Functionally, this means {low(self.fact())}")
                if i == note_at and r.random() < 0.5:
                    p3 = r.choice([x for x in (40, 50, 60, 70) if x not in (p, p2)])  # unambiguous in a review
                    claim3 = self.claim(year)
                    mark("note", head, level, claim3, p3, f"{p3}%", doc.line + 3)
                    doc.add(f"> [!NOTE]\n> Bonus:\\\n> Inspired by [this]({self.link()[1]}), {low(claim3)}\\\n"
                            f"> _Probability: {p3}%_")
                elif r.random() < 0.2:
                    doc.add(f"> [!NOTE]\n> For context, {low(self.fact())}")

        lr = "Lighting Round" if r.random() < 0.05 else LIGHTNING  # the 2025 post has this typo
        doc.add(f"## {lr}")
        items = ["plain"] * r.randint(0, 1) + ["double", "continued", "nested", "commentary"]
        r.shuffle(items)
        lines = []
        for form in items:
            line = doc.line + len(lines)
            a, (pa, ta) = self.claim(year), self.pct()
            if form == "double":
                b, pb = r.choice(BUTS), r.choice(PCTS)
                mark("list_item", lr, 2, a, pa, ta, line, form="double-first")  # reviews grade only the pair
                mark("list_item", lr, 2, f"{a} but {b}", pb, f"{pb}%", line, form="double")
                lines.append(f"- {a} (_Probability: {ta}_), but {b} (_Probability: {pb}%_)")
            elif form == "continued":
                b, pb = r.choice(WITHS), r.choice(PCTS)
                mark("list_item", lr, 2, a, pa, ta, line)
                mark("list_item", lr, 2, b, pb, f"{pb}%", line + 1, form="continued")
                lines += [f"- {a} (_Probability: {ta}_),", f"  {b} (_Probability: {pb}%_)"]
            elif form == "nested":
                b, pb = self.claim(year), r.choice(PCTS)
                mark("list_item", lr, 2, a, pa, ta, line)
                mark("list_item", lr, 2, b, pb, f"{pb}%", line + 1, form="nested")
                lines += [f"- {a} (_Probability: {ta}_).", f"  - {b} (_Probability: {pb}%_)."]
            elif form == "commentary":
                mark("list_item", lr, 2, a, pa, ta, line)
                lines += [f"- {a} (_Probability: {ta}_).\\", f"  This should be a gimme given that {low(self.fact())}"]
            else:
                mark("list_item", lr, 2, a, pa, ta, line)
                lines.append(f"- {a}{self.cite(notes)} (_Probability: {ta}_)")
        doc.add("\n".join(lines))
        if r.random() < 0.5:
            doc.add("---", "## Topics to Watch", "I'm not making predictions for these topics.",
                    f"### {topics[6]}", self.fact() + "\n" + self.fact())
        doc.add("## References", "<!-- markdownlint-disable MD013 -->",
                *(f"[^{k}]: [{t}]({u})" for k, (t, u) in notes.items()))
        return doc.text(), preds

    def review(self, slug, year, authors, tags, preds):
        """Year-in-review post grading about 80% of the forecasts (never the Bonus notes)."""
        r, doc = self.r, Post()
        by = ", ".join(f"Author {a}" for a in authors)
        doc.add(front_matter(f"Year in Review - {year} ({by})", f"{year}-12-{r.randint(15, 31)}", authors, tags),
                f'[Back in January, I made a series of predictions for {year}]({{{{< ref "/blog/{slug}" >}}}}), '
                "assigning somewhat arbitrary probability estimates to each.\n"
                "Now that the year is wrapping up, it's time to see what kind of AI Nostradamus I am.")
        done, items = set(), []
        for n, p in enumerate(preds):
            skip = p["kind"] == "note" or p.get("form") == "double-first" or p["section"] in done
            if skip or r.random() > 0.92:
                p["outcome"] = p["verdict"] = None
                continue
            happened = self.outcome(p["percent"])
            pct = "50/50" if p["probability_text"] == "50/50" else f"{p['percent']}%"
            title, url = self.link()
            if p["kind"] == "headline":
                done.add(p["section"])
                p["outcome"], p["verdict"] = ("true", "Correct") if happened else ("false", "Miss")
                lvl = p["level"]
                if p["parent"] and p["parent"] not in done:  # the H2 that groups H3 forecasts
                    done.add(p["parent"])
                    doc.add(f"## {p['parent']}")
                doc.add("#" * lvl + f" {p['section']}", f"**Prediction:** {p['claim']}.\\\n**Probability:** {pct}",
                        "#" * (lvl + 1) + f" Verdict: {'Correct ✅' if happened else 'Miss ❌'}",
                        f"{self.fact()}\nSee [{title}]({url}) for the details.")
                continue
            if r.random() < 0.08:
                p["outcome"], p["verdict"], mark = "open", "TBD", "_TBD_ ⚠️"
            elif happened:
                p["outcome"], p["verdict"], mark = "true", "Correct", "_Correct_ ✅"
            elif r.random() < 0.25:
                p["outcome"], p["verdict"], mark = "false", "No Evidence", "_No Evidence_ ❌"
            else:
                p["outcome"], p["verdict"], mark = "false", "Miss", "_Miss_ ❌"
            sub = p.get("form") in ("continued", "nested") and items and items[-1][0] is preds[n - 1]
            pad = "  " if sub else ""
            claim = f"... {p['claim']}" if p.get("form") == "continued" else p["claim"]
            items.append((p, f"{pad}- **{claim} ({pct}):** {mark}\\\n{pad}  {self.fact()} ([source]({url}))"))
        if items:
            doc.add("## Lightning Round Review", "\n".join(text for _, text in items))
        graded = [p for p in preds if p["outcome"] in ("true", "false")]
        hits = sum(p["outcome"] == "true" for p in graded)
        doc.add("## Scorecard", f"All told, {hits} of {len(graded)} resolved calls came true "
                f"({round(100 * hits / max(1, len(graded)))}%).")
        return doc.text()

    def article(self, i, year, author):
        r, doc, notes = self.r, Post(), {}
        topics = r.sample(TOPICS, 3)
        draft, series = r.random() < 0.05, [r.choice(WORDS)] if r.random() < 0.2 else []
        doc.add(front_matter(f"Notes on {topics[0]}", f"{year}-{r.randint(1, 12):02d}-{r.randint(1, 28):02d}",
                             [author], [("ai/ml", r.sample(TAGS, 2))], series, draft))
        for head in topics:
            doc.add(f"## {head}", "\n".join(self.fact() + (self.cite(notes) if r.random() < 0.3 else "")
                                           for _ in range(3)))
        doc.add(f"## {r.choice((20, 60, 95))}% {r.choice(NOUNS)}", self.table(),
                f"- roughly {r.randint(5, 95)}% of runs diverged\n- the probability of a retry was {r.randint(1, 9)}%")
        if notes:
            doc.add("## References", *(f"[^{k}]: [{t}]({u})" for k, (t, u) in notes.items()))
        return f"notes-{i}-" + topics[0].lower().replace(" ", "-").replace(",", "").replace("'", ""), doc.text()


def generate(out_dir, posts, seed):
    """Write the corpus into out_dir (replacing a previous synthetic one) and return the counts."""
    out = Path(out_dir)
    if (out / "content").exists():
        if not (out / "expected.json").exists():
            raise FileExistsError(f"{out} holds a content tree that synth.py did not write; refusing to replace it")
        shutil.rmtree(out / "content")
    blog = out / "content" / "blog"
    blog.mkdir(parents=True)
    s, n_authors = Synth(seed), max(1, -(-posts // 5))
    pairs = sorted(s.r.sample([(y, a) for a in range(1, n_authors + 1) for y in YEARS], posts))
    files, expected = {}, []
    for year, a in pairs:
        authors = [a] + ([s.r.choice([b for b in range(1, n_authors + 1) if b != a] or [a])]
                         if s.r.random() < 0.1 and n_authors > 1 else [])
        slug = f"predictions-{year}-author-{a}"
        tags = [("meta", ["meta", "listicle", "opinion"]), ("ai/ml", sorted(s.r.sample(TAGS, 3)))]
        files[slug], preds = s.forecast(slug, year, authors, tags)
        reviewed = year < 2026 and s.r.random() < 0.87  # no review for the still-open current year
        if reviewed:
            files[f"year-in-review-{slug}"] = s.review(slug, year, authors, tags, preds)
        for p in preds:
            if not reviewed:
                p["outcome"] = p["verdict"] = None
            p["review"] = f"year-in-review-{slug}" if p["outcome"] else None
            expected.append({k: p.get(k) for k in ("post", "section", "percent", "probability_text", "kind",
                                                   "line", "outcome", "verdict", "review")})
    for i in range(max(1, posts // 5)):
        slug, text = s.article(i + 1, s.r.choice(YEARS), s.r.randrange(1, n_authors + 1))
        files[slug] = text
    for slug in sorted(files):
        (blog / slug).mkdir()
        (blog / slug / "index.md").write_text(files[slug], encoding="utf-8", newline="\n")
    (out / "hugo.yaml").write_text(
        f'title: Synthetic Forecasts (seed {seed})\nbaseURL: "{BASE_URL}"\n'
        "copyright: '<a rel=\"license\" href=\"https://creativecommons.org/licenses/by-nc/4.0/\">CC BY-NC-4.0</a>'\n",
        encoding="utf-8", newline="\n")
    expected.sort(key=lambda p: p["post"])  # stable: document order within a post
    counts = {
        "forecast_posts": posts,
        "reviews": sum(slug.startswith("year-in-review-") for slug in files),
        "articles": max(1, posts // 5),
        "predictions": len(expected),
        "graded": sum(p["outcome"] is not None for p in expected),
        "resolved": sum(p["outcome"] in ("true", "false") for p in expected),
    }
    body = ",\n".join(json.dumps(p, ensure_ascii=False, sort_keys=True) for p in expected)
    (out / "expected.json").write_text(
        f'{{"seed": {seed}, "counts": {json.dumps(counts)},\n"predictions": [\n{body}\n]}}\n',
        encoding="utf-8", newline="\n")
    return counts


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--posts", type=int, default=100, help="number of forecast posts")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", required=True, help="output directory")
    args = ap.parse_args()
    if args.posts < 1:
        raise SystemExit("--posts must be at least 1")
    start = time.perf_counter()
    try:
        counts = generate(args.out, args.posts, args.seed)
    except FileExistsError as e:
        raise SystemExit(str(e)) from None
    print(json.dumps(counts), f"in {time.perf_counter() - start:.1f}s")


if __name__ == "__main__":
    main()
