"""Time from `linli run` to ready, and the resident memory of an idle bot.

Usage: .venv/bin/python bench/startup.py [--runs 5] [--idle 5]
Starts `linli run` on the embedded sandbox in a fresh data folder (first run: empty database,
migrations and demo seed; later runs: an existing database), reads the time until it prints
its ready line, waits `--idle` seconds, and reads VmRSS (and VmHWM, the peak) from /proc.
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LINLI = ROOT / ".venv" / "bin" / "linli"


def free_port() -> int:
    """An unused TCP port on loopback."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def memory_kib(pid: int) -> tuple[int, int]:
    """VmRSS and VmHWM of a process, in KiB."""
    status = Path(f"/proc/{pid}/status").read_text()
    rss = int(re.search(r"VmRSS:\s+(\d+)", status).group(1))  # type: ignore[union-attr]
    hwm = int(re.search(r"VmHWM:\s+(\d+)", status).group(1))  # type: ignore[union-attr]
    return rss, hwm


def one_run(data_dir: Path, idle: float) -> tuple[float, int, int]:
    """Start, wait for ready, idle, measure, stop; returns (seconds, rss KiB, peak KiB)."""
    env = dict(os.environ)
    env.update(
        LINLI_DATA_DIR=str(data_dir),
        LINLI_SANDBOX_PORT=str(free_port()),
        LINLI_WEB_PORT=str(free_port()),
        LINLI_LOG_LEVEL="WARNING",
    )
    env.pop("TELEGRAM_BOT_TOKEN", None)
    started = time.perf_counter()
    proc = subprocess.Popen(
        [str(LINLI), "run"], env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
    )
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            if "ready" in line:
                break
        else:
            raise RuntimeError("linli run exited before it was ready")
        ready = time.perf_counter() - started
        time.sleep(idle)
        rss, hwm = memory_kib(proc.pid)
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=20)
    return ready, rss, hwm


def main() -> int:
    """Run the measurement and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--idle", type=float, default=5.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "data"
        first = one_run(data, args.idle)
        later = [one_run(data, args.idle) for _ in range(args.runs)]
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} cpus")
    print(f"first start (empty database, migrate + seed): {first[0]:.2f} s")
    times = [r[0] for r in later]
    print(
        f"later starts ({len(later)} runs): median {statistics.median(times):.2f} s, "
        f"max {max(times):.2f} s"
    )
    rss = [r[1] / 1024 for r in later]
    hwm = [r[2] / 1024 for r in later]
    print(
        f"idle resident memory after {args.idle:.0f} s (bot + sandbox in one process): "
        f"median {statistics.median(rss):.1f} MiB, peak {max(hwm):.1f} MiB"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
