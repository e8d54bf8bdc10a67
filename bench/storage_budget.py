"""Benchmark 4 (issue 11): the storage budget of every document kind the close path writes,
at the issue's activity, by Firestore's documented rules
(``backend/strategy_service/storage/budget.py``, honouring ``firestore.indexes.json``).

    .venv/bin/python bench/storage_budget.py          # about 20-40 s, no emulator needed

The documents are the real ones: the aggregate documents come from
``snapshot_documents`` (performance/repository.py: the plain final documents a rebuild
writes, which are also what the merges of ``close_writes`` add up to, one shard), the trade
document from ``trade_document`` plus the close's fields, the transforms per commit from
``close_writes`` itself. Only the fold checkpoint is built here, by the shape of
``AggregateRepository.store_checkpoint``.

Activity (the issue's "up to"): 7,500 distinct (day, source, strategy, symbol) cells in a
day, 50,000 closes in a day, 20 years of history. Document kinds are per day or per month
(the summary and the checkpoints are constant), so 20 years add documents, never size to
one. Two name profiles (byte sizes depend on them):

- ``typical``: uid of 28 characters (Firebase), strategy ``strat-NN``, symbols of 4-5
  characters, trade ids of 32 hex digits;
- ``longest``: the longest names the API accepts: uid 128, strategy id 128, symbol 15.

And the worst time and name distributions each kind can see:

- a day's cells: 7,500 cells (2 sources x 15 strategies x 250 symbols), 50,000 closes;
- a day's close sequences: the 50,000 closes spread over the 390 minutes of the session,
  or all of them in ONE minute (a burst; the fewest documents: ``MIN_SEQUENCE_SHARDS``);
- a month's day totals: 31 days with a close in every one of the 1,440 minutes;
- a month's groups: the same 7,500 cells every day (267 groups), or adversarial: 7,500
  NEW symbols every day of a 31-day month (232,500 symbol groups).
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from collections import defaultdict
from dataclasses import replace
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from backend.strategy_service.core.aggregates import OrderFold, TradeFacts  # noqa: E402
from backend.strategy_service.core.costs import CostModel, fill_with_costs  # noqa: E402
from backend.strategy_service.performance.filters import TradeFilter  # noqa: E402
from backend.strategy_service.performance.repository import (  # noqa: E402
    AGG_CELLS,
    AGG_DAYS,
    AGG_FOLDS,
    AGG_GROUPS,
    AGG_SEQ,
    AGG_SUMMARY,
    MAX_SHARDS,
    close_writes,
    snapshot_documents,
)
from backend.strategy_service.storage.budget import (  # noqa: E402
    MAX_DOCUMENT_BYTES,
    MAX_FIELD_TRANSFORMS_PER_DOCUMENT,
    MAX_INDEX_ENTRIES_PER_DOCUMENT,
    MAX_REQUEST_BYTES,
    document_size,
    index_entries,
    load_overrides,
    transform_count,
)
from backend.strategy_service.storage.client import USERS  # noqa: E402
from backend.strategy_service.trades.models import CLIENT_FIELDS, Trade  # noqa: E402
from backend.strategy_service.trades.repository import SHADOW_TRADES, _CLOSE_FIELDS, _encode, trade_document  # noqa: E402
from backend.strategy_service.trades.service import realize  # noqa: E402

GEN = 12  # a generation number of two digits (ids grow with it)
DAY = date(2026, 11, 20)
SESSION_START = 9 * 60 + 30  # 09:30, minutes of the day

PROFILES = {
    "typical": {"uid": "u" * 28, "strategy": lambda i: f"strat-{i:02d}", "symbol": lambda i: f"S{i:03d}"},
    "longest": {"uid": "u" * 128, "strategy": lambda i: f"{i:03d}".ljust(128, "s"),
                "symbol": lambda i: f"{i:05d}".ljust(15, "Y")},
}


def fact(rng: random.Random, day: date, minute: int, source: str, strategy: str, symbol: str) -> TradeFacts:
    start = datetime(day.year, day.month, day.day, tzinfo=timezone.utc) + timedelta(minutes=minute)
    closed_us = int(start.timestamp() * 1_000_000) + rng.randrange(60_000_000)
    risky = rng.random() < 0.7
    return TradeFacts(trade_id=f"{rng.getrandbits(128):032x}", closed_at_us=closed_us, day=day, source=source,
                      strategy_id=strategy, symbol=symbol, pnl_cents=rng.randrange(-5_000_000, 5_000_000),
                      r_units=rng.randrange(-99_999, 99_999) if risky else None,
                      risk_cents=rng.randrange(1, 10_000_000) if risky else None,
                      hold_us=rng.randrange(1, 10**12), minute=minute)


def day_cells(profile: dict) -> list[tuple[str, str, str]]:
    """7,500 distinct (source, strategy, symbol) of one day."""
    return [(src, profile["strategy"](k), profile["symbol"](s))
            for src in ("paper", "backtest") for k in range(15) for s in range(250)]


def heavy_day(profile: dict, rng: random.Random, *, one_minute: bool) -> list[TradeFacts]:
    """50,000 closes of one day over its 7,500 cells (every cell at least once)."""
    cells = day_cells(profile)
    picks = cells + [rng.choice(cells) for _ in range(50_000 - len(cells))]
    return [fact(rng, DAY, SESSION_START if one_minute else SESSION_START + rng.randrange(390), *c) for c in picks]


def every_minute_month(profile: dict, rng: random.Random) -> list[TradeFacts]:
    """A close in each of the 1,440 minutes of each of 31 days (the largest minute maps)."""
    cells = day_cells(profile)
    return [fact(rng, date(2026, 10, d), m, *cells[(d * 1440 + m) % len(cells)]) for d in range(1, 32) for m in range(1440)]


def month_groups(profile: dict, rng: random.Random, *, new_symbols_daily: bool) -> list[TradeFacts]:
    """One close per cell per day (group counters do not change size): one day when the
    cells repeat (the groups are the same every day), every day of a 31-day month when
    the symbols are new every day."""
    out = []
    for d in range(1, 32 if new_symbols_daily else 2):
        for n, (src, strat, sym) in enumerate(day_cells(profile)):
            if new_symbols_daily:
                strat, sym = profile["strategy"](0), profile["symbol"](d * 10_000 + n)
            out.append(fact(rng, date(2026, 10, d), SESSION_START, src, strat, sym))
    return out


def longest_trade(profile: dict) -> dict[str, Any]:
    """The closed trade's stored document with every optional field at its longest (closed
    in one exit; a position in 1,000 parts is checked in tests/unit/trades)."""
    now = datetime(2026, 11, 20, 15, 59, 59, 999_999, tzinfo=timezone.utc)
    big = Decimal("123456789012.123456")
    trade = Trade(shadow_id="k" + "f" * 39, uid=profile["uid"], symbol=profile["symbol"](1), side="SELL",
                  quantity=big, notional=big, entry_price=big, strategy_id=profile["strategy"](1), source="paper",
                  created_at=now, created_at_iso=now.isoformat(), current_price=big, received_at=now,
                  request_hash="f" * 64, idempotency_key="i" * 128, stop_loss=big, risk_amount=big,
                  quote_bid=big, quote_ask=big, client={name: "c" * 128 for name in CLIENT_FIELDS})
    trade = replace(trade, cost_model=CostModel(*(Decimal("99.999999"),) * 6), entry_base_price=big,
                    entry_commission=big, entry_slippage=big, decision_price=big, decided_at=now)
    exit_fill = fill_with_costs(trade.costs, "BUY", base_price=big, quantity=big, commission=big)
    closed, _ = realize(trade, exit_fill, exit_reason="r" * 200, closed_at=now, agg_gen=GEN,
                        idempotency_key="i" * 128, signal_id="s" * 128)
    closed = replace(closed, last_updated=now)
    doc = trade_document(trade)
    doc.update({name: _encode(getattr(closed, name)) for name in _CLOSE_FIELDS})
    doc["final_pnl"], doc["final_pnl_percent"] = doc["realized_pnl"], doc["realized_pnl_percent"]
    return doc


def checkpoint_doc(profile: dict) -> dict[str, Any]:
    """The fold checkpoint's shape (``store_checkpoint``) with its largest values."""
    fold = OrderFold(count=10**9, cum=-10**15, peak=10**15, worst_usd=-10**15,
                     worst_pct=Decimal("-99.99999999999999999999999999"), run_w=10**6, run_l=10**6,
                     best_w=10**6, best_l=10**6)
    flt = TradeFilter(start_date=date(2006, 1, 1), end_date=DAY, source="backtest",
                      strategy_id=profile["strategy"](1), symbol=profile["symbol"](1))
    return {"day": DAY.isoformat(), "minute": 1439, "fold": fold.to_doc(), "prior_count": 10**9,
            "minute_total": 50_000, "filters": flt.as_json()}


class Budget:
    """The largest document of each kind seen, by bytes and by index entries."""

    def __init__(self, overrides: Any) -> None:
        self.overrides = overrides
        self.rows: dict[tuple[str, str], dict[str, Any]] = {}

    def add(self, kind: str, scenario: str, collection: str, path: list[str], doc: dict[str, Any]) -> None:
        size = document_size(path, doc)
        entries = index_entries(collection, doc, self.overrides)
        row = self.rows.setdefault((kind, scenario), {"bytes": 0, "entries": 0, "docs": 0})
        row["docs"] += 1
        row["bytes"] = max(row["bytes"], size)
        row["entries"] = max(row["entries"], entries)

    def add_snapshot(self, scenario: str, uid: str, docs: dict[tuple[str, str], dict[str, Any]], kinds: set[str]) -> None:
        for (collection, doc_id), doc in docs.items():
            if collection in kinds:
                self.add(collection, scenario, collection, [USERS, uid, collection, doc_id], doc)


def transforms_per_commit(profile: dict, rng: random.Random) -> dict[str, int]:
    """Most transforms one close commit sends to one document, per kind: ``close_writes``
    for 2 generations (a rebuild in progress) and 1 to MAX_SHARDS shards."""
    out: dict[str, int] = defaultdict(int)
    cells = day_cells(profile)
    for shards in (1, 8, MAX_SHARDS):
        for _ in range(200):
            f = fact(rng, DAY, rng.randrange(1440), *rng.choice(cells))
            f = replace(f, r_units=f.r_units or 1, risk_cents=f.risk_cents or 1)  # every counter non-zero
            per_doc: dict[tuple[str, str], int] = defaultdict(int)
            for gen in (GEN, GEN + 1):
                for collection, doc_id, fields in close_writes(gen, f, shards):
                    per_doc[(collection, doc_id)] += transform_count(fields)
            for (collection, _), n in per_doc.items():
                out[collection] = max(out[collection], n)
    out[SHADOW_TRADES] = 0
    return out


def close_request_bytes(profile: dict, rng: random.Random) -> int:
    """An upper bound of one close commit's size: the document sizes of its writes (two
    generations) plus the trade document."""
    f = fact(rng, DAY, 600, *day_cells(profile)[0])
    total = document_size([USERS, profile["uid"], SHADOW_TRADES, "k" * 40], longest_trade(profile))
    for gen in (GEN, GEN + 1):
        for collection, doc_id, fields in close_writes(gen, f, MAX_SHARDS):
            total += document_size([USERS, profile["uid"], collection, doc_id], fields)
    return total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--indexes", default=str(ROOT / "firestore.indexes.json"))
    args = parser.parse_args()
    t_start = time.perf_counter()
    overrides = load_overrides(args.indexes)
    rng = random.Random(11)
    for name, profile in PROFILES.items():
        uid = profile["uid"]
        budget = Budget(overrides)
        t0 = time.perf_counter()
        for one_minute in (False, True):
            scenario = "50,000 closes in 1 minute" if one_minute else "50,000 closes over 390 minutes"
            budget.add_snapshot(scenario, uid, snapshot_documents(GEN, heavy_day(profile, rng, one_minute=one_minute)),
                                {AGG_SUMMARY, AGG_CELLS, AGG_SEQ, AGG_DAYS})
        budget.add_snapshot("1,440 minutes x 31 days", uid, snapshot_documents(GEN, every_minute_month(profile, rng)),
                            {AGG_DAYS})
        for adversarial in (False, True):
            scenario = "7,500 new symbols every day" if adversarial else "same 7,500 cells every day"
            budget.add_snapshot(scenario, uid, snapshot_documents(GEN, month_groups(profile, rng, new_symbols_daily=adversarial)),
                                {AGG_GROUPS})
        budget.add(SHADOW_TRADES, "longest optional fields", SHADOW_TRADES, [USERS, uid, SHADOW_TRADES, "k" * 40],
                   longest_trade(profile))
        budget.add(AGG_FOLDS, "largest values", AGG_FOLDS, [USERS, uid, AGG_FOLDS, f"{GEN}~" + "f" * 40],
                   checkpoint_doc(profile))
        transforms = transforms_per_commit(profile, rng)
        print(f"\n## names: {name} (uid {len(uid)} chars, strategy {len(profile['strategy'](1))}, "
              f"symbol {len(profile['symbol'](1))}); {time.perf_counter() - t0:.1f} s")
        print(f"{'document kind':<18} {'scenario':<31} {'docs':>6} {'max bytes':>10} {'of 1 MiB':>8} "
              f"{'max index entries':>17} {'of 40,000':>9} {'transforms/commit':>17}")
        order = [SHADOW_TRADES, AGG_SUMMARY, AGG_DAYS, AGG_CELLS, AGG_GROUPS, AGG_SEQ, AGG_FOLDS]
        over = []
        for kind in order:
            for (k, scenario), row in budget.rows.items():
                if k != kind:
                    continue
                tr_text = "-" if kind == AGG_FOLDS else str(transforms.get(kind))
                print(f"{kind:<18} {scenario:<31} {row['docs']:>6,} {row['bytes']:>10,} "
                      f"{row['bytes'] / MAX_DOCUMENT_BYTES:>8.1%} {row['entries']:>17,} "
                      f"{row['entries'] / MAX_INDEX_ENTRIES_PER_DOCUMENT:>9.1%} {tr_text:>17}")
                if (row["bytes"] > MAX_DOCUMENT_BYTES or row["entries"] > MAX_INDEX_ENTRIES_PER_DOCUMENT
                        or transforms.get(kind, 0) > MAX_FIELD_TRANSFORMS_PER_DOCUMENT):
                    over.append(f"{kind} ({scenario})")
        print(f"limits: {MAX_DOCUMENT_BYTES:,} bytes, {MAX_INDEX_ENTRIES_PER_DOCUMENT:,} index entries, "
              f"{MAX_FIELD_TRANSFORMS_PER_DOCUMENT} transforms per document per commit; one close commit "
              f"<= {close_request_bytes(profile, rng):,} bytes of documents (limit {MAX_REQUEST_BYTES:,} per request)")
        print("OVER A LIMIT: " + ", ".join(over) if over else "every kind within the limits")
    print(f"\n(20 years of history: every kind above is per day or per month, or constant; "
          f"total {time.perf_counter() - t_start:.1f} s)")


if __name__ == "__main__":
    main()
