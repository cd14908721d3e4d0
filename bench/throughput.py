"""Group messages through the real bot and the sandbox: sustained rate and reply latency.

    .venv/bin/python bench/throughput.py [--loads 25,50,100,200,300,400] [--seconds 12]
        [--pg postgresql+asyncpg://postgres@127.0.0.1:5432/test] [--growth 1,2,4,8] [--no-echo] [--sqlite-normal]

The sandbox (the local Telegram) and the load generator live in this process; the bot under
test runs as `python -m bot run` in a process of its own (bench/_harness.BotProcess), with the
sandbox's token and LINLI_TELEGRAM_API_URL pointing at it, on the demo community
(bot.demo.seed_demo) in a fresh SQLite file or, with --pg, a fresh PostgreSQL database.

Residents of the demo's residents' group post, at a fixed offered load for `--seconds` each,
a mix drawn (seed 7) from eval/faq_a.txt: 40 % answerable questions, 60 % chit-chat and
other messages that need no reply. The answer cooldown is off (LINLI_FAQ_COOLDOWN_MINUTES=0)
so that every answerable question that matches is answered: the heaviest case, and it gives
a latency for each. A message is "accepted" when the sandbox has queued it for the bot (the
in-process `actions.send` returned) and "answered" when the bot's first message quoting it
reaches the sandbox (the hub's event, in this process).

After each load one addressed question (@linli_demo_bot …, always answered) is posted; the
bot starts updates in order and handles at most LINLI_CONCURRENT_UPDATES (8) at once, so when
it answers, at most 7 messages before it may still be in hand (the rate is overstated by
less than 0.3%). Sustained rate = messages handled / (first accepted → that answer). It is the
offered load while the bot keeps up, and the bot's capacity when it does not.

The same loads then go to a bare python-telegram-bot echo bot (bench/_echo_bot.py: one
MessageHandler replying the text) in its own process, so Linli's cost shows as a ratio.
Also printed: the bot process's CPU time per message (from /proc).

`--growth 1,2,4,8` repeats two loads (50 msg/s for latency and 400 msg/s for the rate) with the
knowledge base 1×, 2×, 4×, 8× the default one's questions (generated entries added through
LINLI_KNOWLEDGE_PATHS), on SQLite. Goals: ≥ 300 msg/s sustained on this 2-core machine,
p99 < 100 ms at 50 msg/s.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from _harness import machine_line, write_knowledge  # noqa: E402
from _load import (  # noqa: E402
    ANSWERABLE_SHARE,
    LATENCY_LOAD,
    P99_GOAL_MS,
    RATE_GOAL,
    Load,
    Target,
    target,
)

from knowledge import default_path, load_knowledge_base  # noqa: E402


async def run_loads(t: Target, loads: list[float], seconds: float) -> list[Load]:
    results = []
    for rate in loads:
        r = await t.load(rate, seconds)
        results.append(r)
        print(f"  {row(r)}", flush=True)
    return results


HEAD = (
    f"{'system':<22} {'offered/s':>9} {'sent':>6} {'handled/s':>9} {'answered':>8} "
    f"{'p50 ms':>7} {'p99 ms':>7} {'max ms':>7} {'CPU ms/msg':>10}"
)


def row(r: Load) -> str:
    flag = " TIMED OUT" if r.timed_out else ""
    return (
        f"{r.system:<22} {r.achieved_offer:>9.0f} {r.sent:>6} {r.rate:>9.0f} "
        f"{len(r.latencies):>8} {r.p(50):>7.1f} {r.p(99):>7.1f} {r.p(100):>7.1f} "
        f"{r.cpu_ms:>10.2f}{flag}"
    )


def capacity(results: list[Load]) -> float:
    return max((r.rate for r in results), default=0.0)


def at_load(results: list[Load], rate: float) -> Load | None:
    return next((r for r in results if r.offered == rate), None)


def summary(by_system: dict[str, list[Load]]) -> None:
    print()
    print("Summary")
    echo = by_system.get("echo")
    for name, results in by_system.items():
        cap = capacity(results)
        line = f"  {name}: sustained up to {cap:.0f} msg/s"
        if name != "echo":
            line += f" (goal ≥ {RATE_GOAL:.0f}: {'met' if cap >= RATE_GOAL else 'NOT met'})"
        fifty = at_load(results, LATENCY_LOAD)
        if fifty is not None:
            line += f"; p99 at {LATENCY_LOAD:.0f} msg/s {fifty.p(99):.1f} ms"
            if name != "echo":
                line += f" (goal < {P99_GOAL_MS:.0f} ms: {'met' if fifty.p(99) < P99_GOAL_MS else 'NOT met'})"
        if echo and name != "echo":
            ecap = capacity(echo)
            cpu = min(r.cpu_ms for r in results)
            ecpu = min(r.cpu_ms for r in echo)
            line += (
                f"; echo bot {ecap:.0f} msg/s → Linli handles {cap / ecap:.2f}× the echo bot's "
                f"rate; CPU {cpu:.2f} vs {ecpu:.2f} ms a message ({cpu / ecpu:.1f}×)"
            )
        print(line)


async def growth(
    factors: list[int], folder: Path, seconds: float
) -> list[tuple[int, int, Load, Load]]:
    base = sum(len(e.questions) for e in load_knowledge_base(default_path()))
    out = []
    print()
    print(f"How it grows: knowledge base size (default {base} questions), SQLite")
    for factor in factors:
        kb = write_knowledge(folder / f"kb{factor}", base * (factor - 1)) if factor > 1 else None
        async with target(f"linli kb {factor}×", folder / f"growth{factor}", knowledge=kb) as t:
            low = await t.load(LATENCY_LOAD, seconds)
            high = await t.load(400, seconds)
        out.append((factor, base * factor, low, high))
        print(f"  {row(low)}\n  {row(high)}", flush=True)
    return out


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--loads", default="25,50,100,200,300,400")
    parser.add_argument("--seconds", type=float, default=12.0)
    parser.add_argument("--pg", help="a PostgreSQL URL; a fresh database beside it is used")
    parser.add_argument("--growth", default="", help="knowledge-base factors, e.g. 1,2,4,8")
    parser.add_argument("--growth-seconds", type=float, default=8.0)
    parser.add_argument("--no-echo", action="store_true")
    parser.add_argument(
        "--sqlite-normal",
        action="store_true",
        help="also run Linli on SQLite with LINLI_SQLITE_SYNCHRONOUS=normal",
    )
    parser.add_argument("--only-growth", action="store_true")
    parser.add_argument(
        "--concurrent",
        type=int,
        default=0,
        help="also run Linli with LINLI_CONCURRENT_UPDATES=N (the other runs use the default, 8; "
        "1 = one update at a time)",
    )
    parser.add_argument(
        "--api-latency-ms",
        type=float,
        default=0.0,
        help="hold every Bot API answer back this long, as the network to Telegram would",
    )
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)
    loads = [float(x) for x in args.loads.split(",") if x]
    print(machine_line())
    latency = args.api_latency_ms / 1000
    print(
        f"offered loads {', '.join(f'{x:g}' for x in loads)} msg/s, {args.seconds:g} s each; "
        f"{ANSWERABLE_SHARE:.0%} answerable questions; Bot API answers held {args.api_latency_ms:g} ms"
    )
    by_system: dict[str, list[Load]] = {}
    with tempfile.TemporaryDirectory(prefix="linli-throughput-") as tmp:
        folder = Path(tmp)
        if not args.only_growth:
            print(HEAD)
            normal = {"LINLI_SQLITE_SYNCHRONOUS": "normal"}
            runs: list[tuple[str, str | None, dict[str, str]]] = [("linli sqlite", None, {})]
            if args.sqlite_normal:
                runs.append(("linli sqlite normal", None, normal))
            if args.pg:
                runs.append(("linli postgresql", args.pg, {}))
            if args.concurrent:
                together = {"LINLI_CONCURRENT_UPDATES": str(args.concurrent)}
                runs.append((f"linli sqlite ×{args.concurrent}", None, together))
                if args.pg:
                    runs.append((f"linli postgresql ×{args.concurrent}", args.pg, together))
            if not args.no_echo:
                runs.append(("echo", None, {}))
            for name, pg, extra in runs:
                folder_of_run = folder / name.replace(" ", "-")
                async with target(
                    name.split()[0], folder_of_run, pg, env_extra=extra, latency=latency
                ) as t:
                    t.name = name
                    by_system[name] = await run_loads(t, loads, args.seconds)
            print()
            print(HEAD)
            for results in by_system.values():
                for r in results:
                    print(row(r))
            summary(by_system)
        if args.growth:
            factors = [int(x) for x in args.growth.split(",") if x]
            await growth(factors, folder, args.growth_seconds)
    print(machine_line().replace("at start", "at the end"))
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
