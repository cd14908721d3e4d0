"""FAQ quality and speed: Linli's matcher beside two naive baselines, on both evaluation halves.

Usage: .venv/bin/python bench/faq_bench.py [--speed-only | --quality-only] [--questions 5000]

Quality (passive = a group message, addressed = a message to the bot), by category and overall:
coverage (answered correctly / answerable), wrong answers (/ answerable), replies to messages
that needed none (/ no-reply messages), mean latency. Baselines, tuned on the tuning half to at
most 5% false replies and applied unchanged to the held-out half:
  - WRatio: rapidfuzz process.extractOne(scorer=WRatio) over all questions, answer above a threshold;
  - BM25: jieba words, Okapi BM25 over questions (best question per entry), answer above a threshold.
Speed: a knowledge base of N questions (the default one plus generated entries): load time (in
this process and in a fresh one) and per-message time of Linli's match() beside WRatio extractOne
over the same questions, on the same messages.
"""

from __future__ import annotations

import argparse
import math
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml
from rapidfuzz import fuzz, process, utils

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from knowledge import KnowledgeBase, Matcher, default_path, load_knowledge_base  # noqa: E402
from knowledge.evaluation import ANSWERABLE, SILENT_CATEGORIES, Case, System, evaluate, load_cases  # noqa: E402
from knowledge.normalize import clean  # noqa: E402
from knowledge.segment import segment  # noqa: E402

HALVES = {
    "A (tuning)": ROOT / "eval" / "faq_a.txt",
    "B (held out)": ROOT / "eval" / "faq_b.txt",
    "C (independent)": ROOT / "eval" / "faq_c.txt",
    "D (independent)": ROOT / "eval" / "faq_d.txt",
    "E (independent)": ROOT / "eval" / "faq_e.txt",
    "F (independent)": ROOT / "eval" / "faq_f.txt",
    "G (independent)": ROOT / "eval" / "faq_g.txt",
    "H (independent)": ROOT / "eval" / "faq_h.txt",
    "I (independent)": ROOT / "eval" / "faq_i.txt",
    "J (independent)": ROOT / "eval" / "faq_j.txt",
    "K (independent)": ROOT / "eval" / "faq_k.txt",
    "L (independent)": ROOT / "eval" / "faq_l.txt",
    "M (independent)": ROOT / "eval" / "faq_m.txt",
    "N (independent)": ROOT / "eval" / "faq_n.txt",
    "O (independent)": ROOT / "eval" / "faq_o.txt",
    "P (independent)": ROOT / "eval" / "faq_p.txt",
}
BASELINE_FALSE_REPLIES = 0.05


def linli(matcher: Matcher, mode: str) -> System:
    """Linli's matcher as a system under test."""

    def run(text: str) -> tuple[str, str | None, list[str]]:
        r = matcher.match(text, mode=mode)  # type: ignore[arg-type]
        suggested = [e.id for e, _ in r.candidates] if r.decision.value == "suggest" else []
        return r.decision.value, r.entry.id if r.entry else None, suggested

    return run


class WRatioBaseline:
    """rapidfuzz WRatio extractOne over every question; answer when the best score passes a threshold."""

    def __init__(self, kb: KnowledgeBase) -> None:
        self.owners = [e.id for e in kb for _ in e.questions]
        self.questions = [q for e in kb for q in e.questions]
        self.threshold = 0.0

    def best(self, text: str) -> tuple[str | None, float]:
        """The entry of the closest question and its score."""
        found = process.extractOne(text, self.questions, scorer=fuzz.WRatio, processor=utils.default_process)
        return (self.owners[found[2]], found[1]) if found else (None, 0.0)

    def __call__(self, text: str) -> tuple[str, str | None, list[str]]:
        entry, score = self.best(text)
        return ("answer", entry, []) if entry and score >= self.threshold else ("silent", None, [])


class BM25Baseline:
    """Okapi BM25 over jieba words of each question; the best question names the entry."""

    def __init__(self, kb: KnowledgeBase, k1: float = 1.2, b: float = 0.75) -> None:
        self.k1, self.b = k1, b
        self.owners = [e.id for e in kb for _ in e.questions]
        self.docs = [self.words(q) for e in kb for q in e.questions]
        self.avg = statistics.mean(len(d) for d in self.docs) if self.docs else 1.0
        df: dict[str, int] = {}
        for doc in self.docs:
            for w in set(doc):
                df[w] = df.get(w, 0) + 1
        n = len(self.docs)
        self.idf = {w: math.log(1 + (n - c + 0.5) / (c + 0.5)) for w, c in df.items()}
        self.postings: dict[str, list[int]] = {}
        for i, doc in enumerate(self.docs):
            for w in set(doc):
                self.postings.setdefault(w, []).append(i)
        self.threshold = 0.0

    @staticmethod
    def words(text: str) -> list[str]:
        """jieba words of the cleaned text (English split on spaces)."""
        out: list[str] = []
        for piece in clean(text).replace("?", " ").split():
            out.extend(w for w in (segment(piece) if not piece.isascii() else (piece,)) if w.strip())
        return out

    def best(self, text: str) -> tuple[str | None, float]:
        """The entry of the best-scoring question and its BM25 score."""
        scores: dict[int, float] = {}
        for w in set(self.words(text)):
            for i in self.postings.get(w, ()):
                tf = self.docs[i].count(w)
                norm = tf * (self.k1 + 1) / (tf + self.k1 * (1 - self.b + self.b * len(self.docs[i]) / self.avg))
                scores[i] = scores.get(i, 0.0) + self.idf[w] * norm
        if not scores:
            return None, 0.0
        i = max(scores, key=scores.__getitem__)
        return self.owners[i], scores[i]

    def __call__(self, text: str) -> tuple[str, str | None, list[str]]:
        entry, score = self.best(text)
        return ("answer", entry, []) if entry and score >= self.threshold else ("silent", None, [])


def tune_threshold(baseline: WRatioBaseline | BM25Baseline, cases: list[Case]) -> float:
    """The lowest threshold whose false-reply rate on `cases` is at most BASELINE_FALSE_REPLIES."""
    silent = sorted((baseline.best(c.text)[1] for c in cases if c.expected is None), reverse=True)
    allowed = int(BASELINE_FALSE_REPLIES * len(silent))
    return (silent[allowed] + 1e-6) if allowed < len(silent) else 0.0


def pct(x: float) -> str:
    return f"{100 * x:5.1f}%"


def quality(kb: KnowledgeBase) -> None:
    """Print the quality table of each half."""
    matcher = Matcher(kb)
    wratio, bm25 = WRatioBaseline(kb), BM25Baseline(kb)
    tuning = load_cases(HALVES["A (tuning)"])
    wratio.threshold = tune_threshold(wratio, tuning)
    bm25.threshold = tune_threshold(bm25, tuning)
    print(f"baselines tuned on half A to <= {BASELINE_FALSE_REPLIES:.0%} false replies: "
          f"WRatio >= {wratio.threshold:.1f}, BM25 >= {bm25.threshold:.2f}\n")
    systems: dict[str, System] = {
        "Linli passive": linli(matcher, "passive"),
        "Linli addressed": linli(matcher, "addressed"),
        "WRatio": wratio,
        "BM25": bm25,
    }
    for half, path in HALVES.items():
        cases = load_cases(path)
        n_ans = sum(c.expected is not None for c in cases)
        print(f"== half {half}: {n_ans} answerable, {len(cases) - n_ans} no-reply messages")
        results = {name: evaluate(system, cases) for name, system in systems.items()}
        header = f"{'category':<12}" + "".join(f"| {name:^33}" for name in ("Linli passive", "WRatio", "BM25"))
        print(header + "| addressed: right one offered")
        print(f"{'':<12}" + "| coverage  wrong  false  ms/msg  " * 3 + "|")
        for category in (*ANSWERABLE, *SILENT_CATEGORIES, "overall"):
            row = f"{category:<12}"
            for name in ("Linli passive", "WRatio", "BM25"):
                tally = results[name].get(category)
                if tally is None:
                    row += "| " + " " * 33
                    continue
                r = tally.rates()
                cov = pct(r["coverage"]) if tally.answerable else "    - "
                wrong = pct(r["wrong"]) if tally.answerable else "    - "
                false = pct(r["false_replies"]) if tally.silent_cases else "    - "
                row += f"| {cov:>7} {wrong:>6} {false:>6} {r['latency_ms']:6.2f}  "
            addressed = results["Linli addressed"].get(category)
            if addressed is not None and addressed.answerable:
                row += f"| {pct(addressed.rates()['offered'])}"
            print(row)
        print()


WORDS = ("电梯 门禁 停车 快递 垃圾 物业 水管 路灯 监控 绿化 楼道 车库 充电桩 健身房 游泳池 会所 "
         "快递柜 信箱 阳台 窗户 外墙 屋顶 地漏 下水道 化粪池 消防栓 电表 水表 燃气表 花坛 秋千 "
         "滑梯 篮球场 羽毛球 乒乓球 棋牌室 图书室 老年活动室 托儿所 幼儿园 业委会 保安 保洁").split()
VERBS = "怎么报修 在哪里 归谁管 几点开放 怎么收费 可以用吗 坏了找谁 能不能预约 谁负责清洁 怎么申请".split()
PLACES = [f"{n}号楼" for n in range(1, 41)] + ["东门", "西门", "南门", "北门", "中心花园", "地下室"]


def synthetic_kb(questions: int, seed: int = 7) -> list[dict[str, object]]:
    """The default entries plus generated ones, about `questions` questions in all."""
    rng = random.Random(seed)
    entries: list[dict[str, object]] = [
        {"id": e.id, "questions": list(e.questions), "answer": e.answer, "keywords": list(e.keywords)}
        for e in load_knowledge_base(default_path())
    ]
    seen = {q for e in entries for q in e["questions"]}  # type: ignore[attr-defined]
    total, i = len(seen), 0
    while total < questions:
        place, word = rng.choice(PLACES), rng.choice(WORDS)
        qs: list[str] = []
        for verb in rng.sample(VERBS, 5):
            q = f"{place}的{word}{verb}"
            if q not in seen and total + len(qs) < questions:
                qs.append(q)
                seen.add(q)
        if qs:
            entries.append({"id": f"gen-{i}", "questions": qs, "answer": f"{place}{word}：请联系物业。"})
            total += len(qs)
            i += 1
    return entries


def speed(n_questions: int) -> None:
    """Print load times and per-message latency with `n_questions` questions."""
    entries = synthetic_kb(n_questions)
    messages = [c.text for path in HALVES.values() for c in load_cases(path)]
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "kb.yaml"
        path.write_text(yaml.safe_dump(entries, allow_unicode=True), encoding="utf-8")
        start = time.perf_counter()
        kb = load_knowledge_base(path)
        loaded = time.perf_counter()
        matcher = Matcher(kb)
        built = time.perf_counter()
        code = ("import time; t=time.perf_counter(); from pathlib import Path; "
                "from knowledge import Matcher, load_knowledge_base; "
                f"Matcher(load_knowledge_base(Path({str(path)!r}))); print(time.perf_counter()-t)")
        fresh = float(subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                                     text=True, check=True).stdout)
    print(f"== speed with {kb.question_count()} questions in {len(kb)} entries")
    print(f"load (YAML + validation) {loaded - start:.3f} s, index {built - loaded:.3f} s, "
          f"together {built - start:.3f} s in this process; {fresh:.3f} s in a fresh process "
          "(imports, jieba's dictionary and pinyin tables included)")
    wratio = WRatioBaseline(kb)
    timings: dict[str, list[float]] = {"Linli match()": [], "WRatio extractOne": []}
    for _ in range(3):
        for text in messages:
            for name, fn in (("Linli match()", lambda t: matcher.match(t, mode="passive")),
                             ("WRatio extractOne", wratio.best)):
                t0 = time.perf_counter()
                fn(text)
                timings[name].append(time.perf_counter() - t0)
    for name, values in timings.items():
        values.sort()
        print(f"{name:<18} mean {1000 * statistics.mean(values):.3f} ms, median "
              f"{1000 * statistics.median(values):.3f} ms, p95 {1000 * values[int(0.95 * len(values))]:.3f} ms"
              f" over {len(values)} messages")


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--questions", type=int, default=5000)
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--speed-only", action="store_true")
    group.add_argument("--quality-only", action="store_true")
    args = parser.parse_args(argv)
    if not args.speed_only:
        quality(load_knowledge_base(default_path()))
    if not args.quality_only:
        speed(args.questions)
    return 0


if __name__ == "__main__":
    sys.exit(main())
