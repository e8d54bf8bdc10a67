"""Load for a py-spy profile of the running service, and the profile's summary (issue 11).

Drive: paper execute + close loops for one user at ``--clients`` concurrent clients for
``--seconds``, against a service already running at ``--base``; prints trades, and the
service's CPU per trade from ``/proc/PID/stat`` when ``--pid`` is given.

    .venv/bin/python bench/profile_load.py drive --base http://127.0.0.1:PORT --pid PID --seconds 20

Summarise: aggregate py-spy's raw collapsed stacks (``py-spy record -f raw``: one line per
distinct stack, ``frame;frame;... count``) by function: self samples (the innermost frame)
and inclusive samples (the function anywhere on the stack, counted once per stack), and by
package (the file path's library).

    .venv/bin/python bench/profile_load.py summarise /tmp/prof.txt [--top 25]

The whole run (emulator, service, py-spy, load; every process stopped by its id) is in
``docs/profiling-notes.md``.
"""

from __future__ import annotations

from procstat import cpu_seconds, paper_trade_loop, wait_ready  # bench/procstat.py (the script's folder is on sys.path)

import argparse
import asyncio
import os
import re
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))





async def drive(base: str, pid: int | None, clients: int, seconds: float) -> None:
    import httpx

    from backend.strategy_service.auth.emulator import make_emulator_token

    project = os.environ["GOOGLE_CLOUD_PROJECT"]
    heads = {"Authorization": f"Bearer {make_emulator_token('prof', project)}"}
    pub = {"Authorization": f"Bearer {make_emulator_token('feed', project, claims={'role': 'publisher'})}"}
    async with httpx.AsyncClient(base_url=base, timeout=60,
                                 limits=httpx.Limits(max_connections=100, max_keepalive_connections=100)) as client:
        await wait_ready(client)
        r = await client.put("/quotes/AAPL", json={"bid": "100.00", "ask": "100.02"}, headers=pub)
        assert r.status_code == 200, r.text
        before = cpu_seconds(pid) if pid else 0.0
        done, errors, wall = await paper_trade_loop(client, heads, clients, seconds, "prof")
        used = cpu_seconds(pid) - before if pid else 0.0
        print(f"{clients} clients, {wall:.1f} s: {done} paper trades (execute + close), {done / wall:.1f} trades/s, "
              f"errors {dict(errors)}")
        if pid:
            print(f"service pid {pid}: {used:.2f} CPU s = {used / max(done, 1) * 1000:.2f} ms CPU per trade, "
                  f"{used / wall:.2f} cores")


_FRAME = re.compile(r"^(?P<func>.*?) \((?P<file>.*?)(?::(?P<line>\d+))?\)$")


def _parse(frame: str) -> tuple[str, str]:
    """``func (pkg/mod.py:123)`` -> (``func (pkg/mod.py)``, package). py-spy names files
    relative to their ``sys.path`` entry: ``google/cloud/firestore_v1/_helpers.py``,
    ``threading.py`` (the standard library), ``backend/strategy_service/trades.py``."""
    m = _FRAME.match(frame.strip())
    if not m:
        return frame.strip(), "?"
    path = m.group("file")
    if "site-packages/" in path:
        path = path.split("site-packages/", 1)[1]
    parts = path.split("/")
    if len(parts) == 1:
        package = "stdlib:" + parts[0] if parts[0].endswith(".py") else parts[0]
    elif parts[0] == "google":
        package = "/".join(parts[:3])
    elif parts[0] == "backend":
        package = "strategy_service"
    elif parts[0] in ("asyncio", "logging", "concurrent", "json", "email", "http", "urllib"):
        package = "stdlib:" + parts[0]
    else:
        package = parts[0]
    return f"{m.group('func')} ({path})", package


#: Hot-spot groups: a sample counts in a group when any frame of its stack contains the text.
GROUPS = {
    "close route (close_shadow_trade)": ("close_shadow_trade (backend",),
    "  TradeService.close": ("TradeService.close (",),
    "  its commit (TradeRepository.close)": ("TradeRepository.close (",),
    "  aggregate writes built (close_writes)": ("close_writes (",),
    "  write encoding (batch set/update -> Write protos)": ("pbs_for_", "base_batch.py"),
    "execute route (execute_trade)": ("execute_trade (backend",),
    "  its create (TradeRepository.create)": ("TradeRepository.create (",),
    "reads (get_many / get / batch_get)": ("get_many (", "batch_get_documents", "_get_all"),
    "dashboard read (PerformanceService.load_selection)": ("load_selection",),
    "  aggregate documents decoded (_stream, to_dict, _merge_stats)": ("AggregateRepository._stream", "DocumentSnapshot.to_dict", "_merge_stats"),
    "grpc (any call)": ("grpc/",),
    "proto-plus marshalling": ("proto/",),
    "pydantic": ("pydantic",),
    "thread-pool hop, event-loop side (to_thread.run_sync)": ("to_thread.py", "run_sync_in_worker_thread"),
    "thread-pool workers, busy (WorkerThread.run, not waiting)": ("WorkerThread.run",),
    "auth (current_principal)": ("current_principal",),
    "logging": ("logging/__init__.py",),
}


def summarise(path: Path, top: int) -> None:
    groups: Counter = Counter()
    self_: Counter = Counter()
    incl: Counter = Counter()
    pkg_self: Counter = Counter()
    pkg_incl: Counter = Counter()
    total = 0
    for line in path.read_text().splitlines():
        if not line.strip():
            continue
        stack, _, count = line.rpartition(" ")
        n = int(count)
        frames = [f for f in stack.split(";") if f]
        # py-spy prefixes the thread ("process PID:..." / "thread (0x...)") when asked; skip non-frames
        frames = [f for f in frames if "(" in f and not f.startswith(("process ", "thread "))]
        if not frames:
            continue
        total += n
        for label, needles in GROUPS.items():
            if any(needle in f for f in frames for needle in needles):
                if label.startswith("thread-pool workers") and frames[-1].startswith("Condition.wait"):
                    continue
                groups[label] += n
        parsed = [_parse(f) for f in frames]
        self_[parsed[-1][0]] += n
        pkg_self[parsed[-1][1]] += n
        for name in {p[0] for p in parsed}:
            incl[name] += n
        for package in {p[1] for p in parsed}:
            pkg_incl[package] += n
    waiting = self_["Condition.wait (threading.py)"]
    print(f"{total} samples from {path}; {waiting / max(total, 1):.1%} of them are idle thread-pool workers "
          "waiting for work (Condition.wait under WorkerThread.run: no CPU)")
    print(f"\n## top {top} functions by self samples")
    for name, n in self_.most_common(top):
        print(f"{n / total:6.1%} {name}")
    print(f"\n## top {top} functions by inclusive samples")
    for name, n in incl.most_common(top):
        print(f"{n / total:6.1%} {name}")
    print("\n## hot-spot groups (inclusive: a frame of the stack matches)")
    for label in GROUPS:
        print(f"{groups[label] / total:6.1%} {label}")
    print("\n## packages: self (inclusive)")
    for name, n in pkg_self.most_common(top):
        print(f"{n / total:6.1%} ({pkg_incl[name] / total:6.1%}) {name}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    sub = parser.add_subparsers(dest="what", required=True)
    d = sub.add_parser("drive")
    d.add_argument("--base", required=True)
    d.add_argument("--pid", type=int)
    d.add_argument("--clients", type=int, default=10)
    d.add_argument("--seconds", type=float, default=20)
    s = sub.add_parser("summarise")
    s.add_argument("raw", type=Path)
    s.add_argument("--top", type=int, default=25)
    args = parser.parse_args()
    if args.what == "drive":
        asyncio.run(drive(args.base, args.pid, args.clients, args.seconds))
    else:
        summarise(args.raw, args.top)


if __name__ == "__main__":
    main()
