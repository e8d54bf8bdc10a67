"""Storage budget of today's close (issue 11): transforms per document per commit, and the
bytes and index entries of the month, day and summary documents as they grow, by
Firestore's documented rules (``backend/strategy_service/storage/budget.py``).

    .venv/bin/python bench/storage_budget.py [--symbols 100] [--strategies 3]

No emulator needed: the close's batch is captured from the real write path,
``Store.close_trade_and_count`` (which calls ``aggregate_writes``), through a recording
client, and its merges and transforms (``Increment``, ``Maximum``, ``Minimum``,
``SERVER_TIMESTAMP``) are applied to in-memory documents the way Firestore applies them
(``set(..., merge=True)`` merges at the leaves). Sizes and index entries are kept
incrementally per new field (they are additive over fields), and checked against a full
recomputation at every day boundary.

Index configuration: the project's ``firestore.indexes.json`` (today: no exemption for the
aggregates), and, for comparison, the same plus ``"indexes": []`` for ``pnlMonths.c``,
``pnlMonths.d``, ``pnlMonths.b`` and ``pnlDays.t``.
"""

from __future__ import annotations

import argparse
import asyncio
import copy
import sys
import uuid
from collections.abc import Mapping
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from backend.strategy_service.aggregates import TradeFacts  # noqa: E402
from backend.strategy_service.repository import Store, aggregate_writes  # noqa: E402
from backend.strategy_service.storage import budget  # noqa: E402
from backend.strategy_service.storage.budget import (  # noqa: E402
    EXEMPT,
    MAX_DOCUMENT_BYTES,
    MAX_FIELD_TRANSFORMS_PER_DOCUMENT,
    MAX_INDEX_ENTRIES_PER_DOCUMENT,
    IndexConfig,
    document_size,
    index_entries,
    load_overrides,
    transform_count,
)

UID = "u" * 28  # Firebase Auth uids are 28 characters


# -- a recording client: the real close_trade_and_count, without Firestore ---------------------
class _Ref:
    def __init__(self, path: tuple[str, ...]) -> None:
        self.path = path


class _Collection:
    def __init__(self, path: tuple[str, ...]) -> None:
        self.path = path

    def document(self, doc_id: str) -> _Ref:
        return _Ref(self.path + (doc_id,))


class _Batch:
    def __init__(self, sink: list) -> None:
        self.sink = sink

    def update(self, ref: _Ref, data: dict, option: Any = None) -> None:
        self.sink.append(("update", ref.path, data))

    def set(self, ref: _Ref, data: dict, merge: bool = False) -> None:
        self.sink.append(("set-merge" if merge else "set", ref.path, data))

    async def commit(self, **_: Any) -> None:
        return None


class RecordingClient:
    """Just enough of ``AsyncClient`` for ``Store.close_trade_and_count``."""

    def __init__(self) -> None:
        self.writes: list = []

    def collection(self, *path: str) -> _Collection:
        return _Collection(tuple(path))

    def batch(self) -> _Batch:
        return _Batch(self.writes)

    def write_option(self, **_: Any) -> None:
        return None


def close_writes(facts: TradeFacts) -> list:
    """The writes of one close's batch, as the service builds them."""
    client = RecordingClient()
    store = Store(client, timeout_seconds=5.0)  # type: ignore[arg-type]
    asyncio.run(store.close_trade_and_count(
        UID, facts.trade_id, {"status": "CLOSED"}, last_update_time=datetime.now(timezone.utc), facts=facts
    ))
    return client.writes


# -- applying a merge the way Firestore does --------------------------------------------------------
NOW = datetime(2026, 1, 1, tzinfo=timezone.utc)


def _apply_leaf(old: Any, new: Any) -> Any:
    name = type(new).__name__
    if budget.is_server_timestamp(new):
        return NOW
    if name == "Increment":
        return (old if isinstance(old, (int, float)) else 0) + new.value
    if name == "Maximum":
        return new.value if not isinstance(old, (int, float)) else max(old, new.value)
    if name == "Minimum":
        return new.value if not isinstance(old, (int, float)) else min(old, new.value)
    return copy.deepcopy(new)


class TrackedDocument:
    """A stored document with its size and index entries kept up to date per write."""

    def __init__(self, path: tuple[str, ...], config: IndexConfig) -> None:
        self.path = path
        self.group = path[-2]
        self.config = config
        self.data: dict[str, Any] = {}
        self.bytes = document_size(path, {})
        self.entries = 0

    def _merge(self, target: dict, write: Mapping, prefix: tuple[str, ...]) -> None:
        for key, value in write.items():
            if isinstance(value, Mapping) and not budget.is_transform(value):
                if key not in target:
                    target[key] = {}
                    self.bytes += budget.string_size(key)  # an empty map: its name only
                    self.entries += self._entries_at(prefix + (key,), {})
                self._merge(target[key], value, prefix + (key,))
            elif key in target:
                target[key] = _apply_leaf(target[key], value)  # numbers stay numbers: same size
            else:
                target[key] = _apply_leaf(None, value)
                self.bytes += budget.string_size(key) + budget.value_size(target[key])
                self.entries += self._entries_at(prefix + (key,), target[key])

    def _entries_at(self, path: tuple[str, ...], value: Any) -> int:
        """Index entries one field adds at ``path`` (its own, not its subfields')."""
        nested: Any = value
        for seg in reversed(path):
            nested = {seg: nested}
        empty: Any = {}
        for seg in reversed(path[:-1]):
            empty = {seg: empty}
        return index_entries(self.group, nested, self.config) - index_entries(self.group, empty, self.config)

    def apply(self, write: Mapping) -> None:
        self._merge(self.data, write, ())

    def check(self) -> None:
        """The incremental figures equal a full recomputation."""
        assert self.bytes == document_size(self.path, self.data), (self.bytes, document_size(self.path, self.data))
        full = index_entries(self.group, self.data, self.config)
        assert self.entries == full, (self.entries, full)


def proposed_config(base: IndexConfig) -> IndexConfig:
    out = IndexConfig(overrides=dict(base.overrides), composites=dict(base.composites))
    for group, field_ in (("pnlMonths", "c"), ("pnlMonths", "d"), ("pnlMonths", "b"), ("pnlDays", "t")):
        out.overrides[(group, (field_,))] = EXEMPT
    return out


def facts_for(day: date, strategy: str, symbol: str, i: int, source: str = "paper") -> TradeFacts:
    pnl = (i * 37 % 2001) - 1000
    closed = datetime(day.year, day.month, day.day, 14, tzinfo=timezone.utc) + timedelta(microseconds=i)
    return TradeFacts(
        trade_id=uuid.UUID(int=i).hex, closed_at_us=int(closed.timestamp()) * 1_000_000 + i, day=day,
        source=source, strategy_id=strategy, symbol=symbol, pnl_cents=pnl,
        r_units=pnl * 10, risk_cents=1000, hold_us=3_600_000_000,
    )


def doc_path(kind: str, facts: TradeFacts) -> tuple[str, ...]:
    return {"month": ("users", UID, "pnlMonths", facts.day.isoformat()[:7]),
            "day": ("users", UID, "pnlDays", facts.day.isoformat()),
            "summary": ("users", UID, "metrics", "summary")}[kind]


# -- the scenarios ---------------------------------------------------------------------------------
def one_close_report(config: IndexConfig) -> None:
    facts = facts_for(date(2026, 1, 5), "strat-1", "AAPL", 1)
    print("## One close: the batch of Store.close_trade_and_count")
    print(f"{'write':<10} {'document':<46} {'transforms':>10} {'written bytes*':>14}")
    total = 0
    for op, path, data in close_writes(facts):
        total += transform_count(data)
        shown = "/".join(("users", "{uid}") + path[2:])
        print(f"{op:<10} {shown:<46} {transform_count(data):>10} {document_size(path, data):>14}")
    print(f"{'':<10} {'whole commit':<46} {total:>10}")
    print(f"* document_size of the written fields (not the stored document); limit "
          f"{MAX_FIELD_TRANSFORMS_PER_DOCUMENT} transforms per document per commit; the trade update's fields "
          f"are a stand-in here ({{'status': 'CLOSED'}})\n")


def month_scenario(symbols: int, strategies: int, config: IndexConfig, label: str) -> None:
    """One close per (day, strategy, symbol) cell, every calendar day of a month."""
    month = (date(2026, 1, 1), 31)
    docs: dict[str, TrackedDocument] = {}
    first_entries = first_bytes = None
    cells = closes = 0
    rows = []
    for d in range(month[1]):
        day = month[0] + timedelta(days=d)
        for s in range(strategies):
            for y in range(symbols):
                closes += 1
                facts = facts_for(day, f"strat-{s}", f"SYM{y:03d}", closes)
                for op, path, data in close_writes(facts):
                    kind = path[2]
                    if kind not in ("pnlMonths",):
                        continue
                    doc = docs.setdefault("month", TrackedDocument(path, config))
                    doc.apply(data)
                cells += 1
                doc = docs["month"]
                if first_entries is None and doc.entries > MAX_INDEX_ENTRIES_PER_DOCUMENT:
                    first_entries = (day.day, closes - d * symbols * strategies, closes, doc.entries)
                if first_bytes is None and doc.bytes > MAX_DOCUMENT_BYTES:
                    first_bytes = (day.day, closes - d * symbols * strategies, closes, doc.bytes)
        docs["month"].check()
        rows.append((day.day, cells, docs["month"].bytes, docs["month"].entries))
    print(f"## Month document, {symbols} symbols x {strategies} strategies x 1 source, one close per cell per day ({label})")
    print(f"{'day':>4} {'cells':>7} {'bytes':>10} {'index entries':>14}")
    for day_no, c, b, e in rows:
        flag = ("  > 40,000 entries" if e > MAX_INDEX_ENTRIES_PER_DOCUMENT else "") + ("  > 1 MiB" if b > MAX_DOCUMENT_BYTES else "")
        print(f"{day_no:>4} {c:>7,} {b:>10,} {e:>14,}{flag}")
    if first_entries:
        print(f"first past 40,000 index entries: day {first_entries[0]}, close {first_entries[1]:,} of that day "
              f"(close {first_entries[2]:,} of the month), {first_entries[3]:,} entries")
    else:
        print("never past 40,000 index entries this month")
    if first_bytes:
        print(f"first past 1 MiB: day {first_bytes[0]}, close {first_bytes[1]:,} of that day "
              f"(close {first_bytes[2]:,} of the month), {first_bytes[3]:,} bytes")
    else:
        print("never past 1 MiB this month")
    print()


def per_cell_costs(config: IndexConfig) -> tuple[int, int, int, int, int, int]:
    """Bytes and entries a month document gains for: a new cell, a new day, a new group."""
    base = facts_for(date(2026, 1, 5), "strat-1", "SYM001", 1)
    month = [w for w in close_writes(base) if w[1][2] == "pnlMonths"][0]
    doc = TrackedDocument(month[1], config)
    doc.apply(month[2])
    b0, e0 = doc.bytes, doc.entries
    # same day, strategy, a new symbol: a new cell and a new symbol group
    doc.apply([w for w in close_writes(facts_for(date(2026, 1, 5), "strat-1", "SYM002", 2)) if w[1][2] == "pnlMonths"][0][2])
    b1, e1 = doc.bytes - b0, doc.entries - e0
    # a new day, same strategy and symbol: a new cell and a new day total
    doc.apply([w for w in close_writes(facts_for(date(2026, 1, 6), "strat-1", "SYM002", 3)) if w[1][2] == "pnlMonths"][0][2])
    b2, e2 = doc.bytes - b0 - b1, doc.entries - e0 - e1
    return b0, e0, b1, e1, b2, e2


def day_scenario(config: IndexConfig, label: str, limit: int = 60_000) -> None:
    day = date(2026, 1, 5)
    doc = None
    first_entries = first_bytes = None
    marks = {1, 100, 1_000, 5_000, 5_714, 5_715, 10_000, 15_000, 15_419, 15_420, 20_000, 50_000}
    rows = []
    for i in range(1, limit + 1):
        facts = facts_for(day, "strat-1", "AAPL", i)
        # aggregate_writes is what close_trade_and_count writes to the day document
        # (checked against the captured batch for the first close)
        day_write = aggregate_writes(facts)[1]
        if doc is None:
            captured = [w for w in close_writes(facts) if w[1][2] == "pnlDays"][0]
            assert captured[2] == day_write
            doc = TrackedDocument(captured[1], config)
        doc.apply(day_write)
        if first_entries is None and doc.entries > MAX_INDEX_ENTRIES_PER_DOCUMENT:
            first_entries = (i, doc.entries)
        if first_bytes is None and doc.bytes > MAX_DOCUMENT_BYTES:
            first_bytes = (i, doc.bytes)
        if i in marks:
            rows.append((i, doc.bytes, doc.entries))
    doc.check()
    print(f"## Day document (close sequence), closes in one day, source paper, strategy strat-1, symbol AAPL ({label})")
    print(f"{'closes':>7} {'bytes':>10} {'index entries':>14}")
    for i, b, e in rows:
        print(f"{i:>7,} {b:>10,} {e:>14,}")
    print(f"first past 40,000 index entries: close {first_entries[0]:,} ({first_entries[1]:,})" if first_entries
          else "never past 40,000 index entries")
    print(f"first past 1 MiB: close {first_bytes[0]:,} ({first_bytes[1]:,} bytes)" if first_bytes else "never past 1 MiB")
    print()


def summary_report(config: IndexConfig) -> None:
    writes = close_writes(facts_for(date(2026, 1, 5), "strat-1", "AAPL", 1))
    op, path, data = [w for w in writes if w[1][2] == "metrics"][0]
    doc = TrackedDocument(path, config)
    doc.apply(data)
    doc.check()
    print(f"## Summary document users/{{uid}}/metrics/summary: {doc.bytes} bytes, {doc.entries} index entries "
          f"(constant: every close increments the same {len(data) - 1} counters)\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--symbols", type=int, default=100)
    parser.add_argument("--strategies", type=int, default=3)
    parser.add_argument("--wide-symbols", type=int, default=500)
    args = parser.parse_args()
    today = load_overrides(ROOT / "firestore.indexes.json")
    exempt = proposed_config(today)

    one_close_report(today)
    summary_report(today)
    b0, e0, b1, e1, b2, e2 = per_cell_costs(today)
    print("## Month document growth (today's indexes)")
    print(f"first close of a month: {b0} bytes, {e0} index entries")
    print(f"a new cell + a new symbol group (same day): +{b1} bytes, +{e1} entries")
    print(f"a new cell + a new day total (same groups): +{b2} bytes, +{e2} entries\n")
    month_scenario(args.symbols, args.strategies, today, "today's firestore.indexes.json")
    month_scenario(args.wide_symbols, args.strategies, today, "today's firestore.indexes.json")
    month_scenario(args.symbols, args.strategies, exempt, "c, d, b exempt")
    day_scenario(today, "today's firestore.indexes.json", limit=20_000)
    day_scenario(exempt, "t exempt", limit=20_000)


if __name__ == "__main__":
    main()
