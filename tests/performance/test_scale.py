"""The aggregates at production scale, on the emulator: every document within Firestore's
production limits at the stated activity (proved from the documents the code writes),
shards added exactly, a rebuild beside live closes, and storage refusals classified."""

from __future__ import annotations

import asyncio
import random
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import pytest
from google.api_core import exceptions as gexc
from google.cloud.firestore_v1.async_batch import AsyncWriteBatch

from backend.strategy_service.core.aggregates import TradeFacts
from backend.strategy_service.performance.repository import (
    AGGREGATE_COLLECTIONS,
    CELL_PARTITIONS,
    CHUNK_ENTRIES,
    GROUP_PARTITIONS,
    MIN_SEQUENCE_SHARDS,
    close_writes,
    snapshot_documents,
)
from backend.strategy_service.storage import budget
from backend.strategy_service.storage.client import USERS
from tests.support import user_docs, user_ref

ROOT = Path(__file__).resolve().parents[2]
OVERRIDES = budget.load_overrides(ROOT / "firestore.indexes.json")
#: The activity every document must hold at (issue 11): cells in a day, closes in a day.
CELLS_PER_DAY = 7_500
CLOSES_PER_DAY = 50_000
#: Distinct (dimension, value) groups in a month: 7,500 new symbols every day of a month.
GROUPS_PER_MONTH = 7_500 * 31
UID = "u" * 28  # Firebase uids are 28 characters


def _limits(collection: str, doc_id: str, fields: dict, *, uid: str = UID) -> tuple[int, int]:
    size = budget.document_size([USERS, uid, collection, doc_id], fields)
    entries = budget.index_entries(collection, fields, OVERRIDES)
    assert size <= budget.MAX_DOCUMENT_BYTES, (collection, doc_id, size)
    assert entries <= budget.MAX_INDEX_ENTRIES_PER_DOCUMENT, (collection, doc_id, entries)
    return size, entries


def _facts(i: int, day: date, cell: int, minute: int) -> TradeFacts:
    """A close with the widest ids the API accepts: a 40-character trade id, 128-character
    strategy ids, 15-character symbols; and a risk."""
    pnl = (i * 7919) % 200_001 - 100_000
    return TradeFacts(f"k{i:039x}", 1_700_000_000_000_000 + i, day, "backtest", f"strategy-{cell % 3:02d}".ljust(128, "x"),
                      f"SYM{cell // 3:06d}.XXXXX", pnl, r_units=pnl * 3, risk_cents=25_000, hold_us=86_400_000_000 + i,
                      minute=minute)


class TestStorageBudget:
    def test_the_exemptions_cover_every_aggregate_map(self):
        for collection, fields in AGGREGATE_COLLECTIONS.items():
            for field in fields:
                assert budget.index_entries(collection, {field: {"a": {"b": 1}}}, OVERRIDES) == 0, (collection, field)

    def test_every_document_kind_holds_at_the_stated_activity(self):
        """The documents of one day at 7,500 cells and 50,000 closes (all in one minute: the
        worst case for a sequence document), 20 years in, built by the same functions the
        closes and the rebuild write with, within 1 MiB and 40,000 index entries each."""
        day = date(2046, 6, 15)  # 20 years of history: ids do not grow with the years
        facts = [_facts(i, day, i % CELLS_PER_DAY, 570) for i in range(CLOSES_PER_DAY)]
        docs = snapshot_documents(12, facts)
        # the same day once settled: its close sequence in chunks, as a read compacts it
        chunks = {k: v for k, v in snapshot_documents(12, facts, settled_before=date(2046, 6, 16)).items()
                  if k[0] == "aggSeq"}
        assert len(chunks) == -(-CLOSES_PER_DAY // CHUNK_ENTRIES)
        for (collection, doc_id), fields in chunks.items():
            _limits(collection, doc_id, fields)
        worst: dict[str, tuple[int, int]] = {}
        for (collection, doc_id), fields in docs.items():
            size, entries = _limits(collection, doc_id, fields)
            worst[collection] = max(worst.get(collection, (0, 0)), (size, entries))
        cells = [d for (c, _), d in docs.items() if c == "aggCells"]
        assert len(cells) == CELL_PARTITIONS and sum(len(d["c"]) for d in cells) == CELLS_PER_DAY
        assert sum(len(d["t"]) for (c, _), d in docs.items() if c == "aggSeq") == CLOSES_PER_DAY
        assert worst["aggSeq"][0] < 800_000 and worst["aggCells"][0] < 1_000_000
        # a month of groups: 7,500 new symbols every day, 232,500 groups in 32 partitions
        month = [_facts(i, date(2046, 6, 1 + i % 28), 3 * i, 0) for i in range(GROUPS_PER_MONTH)]  # a symbol each
        for (collection, doc_id), fields in snapshot_documents(12, month).items():
            if collection == "aggGroups":
                _limits(collection, doc_id, fields)
        # a month of minute counts: a close in every minute of every day
        minutes = [_facts(i, date(2046, 7, 1 + i // 1440 % 31), 0, i % 1440) for i in range(31 * 1440)]
        for (collection, doc_id), fields in snapshot_documents(12, minutes).items():
            if collection == "aggDays":
                _limits(collection, doc_id, fields)

    def test_the_shortfall_counters_of_a_day_hold_at_the_stated_activity(self):
        """A day of 7,500 (strategy, symbol) pairs with the widest ids, each with a linked
        signal, and one pair with 50,000 linked signals of distinct shortfalls (a histogram
        entry each, -250.00 to +249.99 bps): every partition within the limits."""
        from backend.strategy_service.core.shortfall import ShortfallCounters
        from backend.strategy_service.shortfall.repository import SIGNAL_PARTITIONS
        from backend.strategy_service.performance.repository import stable_hash

        docs: dict[str, dict] = {}
        for cell in range(CELLS_PER_DAY):
            key = f"{f'strategy-{cell % 3:02d}'.ljust(128, 'x')}|SYM{cell // 3:06d}.XXXXX"
            heavy = cell == 0
            values = range(-25_000, 25_000) if heavy else [cell - 3_750]
            counters = ShortfallCounters(signals=len(values), linked=len(values), bps=-25_000 if heavy else cell,
                                         usd=-1_234_567_890, shadow_fee=987_654_321, live_fee=987_654_321,
                                         histogram={v: 1 for v in values})
            doc_id = f"12~2046-06-15~{stable_hash(key) % SIGNAL_PARTITIONS}~00"
            docs.setdefault(doc_id, {"c": {}})["c"][key] = counters.to_doc()
        assert len(docs) == SIGNAL_PARTITIONS
        worst = max(_limits("aggSignals", doc_id, fields) for doc_id, fields in docs.items())
        assert worst[1] == 0 and worst[0] < 0.95 * budget.MAX_DOCUMENT_BYTES, worst

    def test_one_execution_closing_many_positions_stays_under_the_commit_limits(self):
        """A live close execution closes up to 100 positions in one batch (close_many): its
        writes, merged per document, in a rebuild's dual state, stay under 500 transforms a
        document whatever the count."""
        from backend.strategy_service.performance.repository import merge_writes
        from backend.strategy_service.trades.service import MAX_LIVE_CLOSE_POSITIONS

        realizations = [_facts(i, date(2026, 11, 20), 1, 600) for i in range(MAX_LIVE_CLOSE_POSITIONS)]
        writes = [w for f in realizations for gen in (3, 4) for w in close_writes(gen, f, 1)]
        merged = merge_writes(writes)
        assert len(merged) < len(writes)
        for collection, doc_id, fields in merged:
            assert budget.transform_count(fields) <= 30, (collection, doc_id, budget.transform_count(fields))
        seq = [f for c, _, f in merged if c == "aggSeq"]
        assert sum(len(f["t"]) for f in seq) == 2 * MAX_LIVE_CLOSE_POSITIONS  # every realization's entry kept
        summaries = [f for c, _, f in merged if c == "aggSummary"]
        assert [f["n"].value for f in summaries] == [MAX_LIVE_CLOSE_POSITIONS] * 2  # increments added
        assert [f["pnl"].value for f in summaries] == [sum(f.pnl_cents for f in realizations)] * 2

    def test_one_close_stays_under_the_commit_limits(self):
        facts = _facts(1, date(2026, 11, 20), 1, 600)
        writes = close_writes(3, facts, 64) + close_writes(4, facts, 64)  # a rebuild's dual write
        assert len(writes) + 1 <= 500
        for _, _, fields in writes:
            assert budget.transform_count(fields) <= budget.MAX_FIELD_TRANSFORMS_PER_DOCUMENT
        assert sum(budget.transform_count(f) for _, _, f in close_writes(3, facts, 1)) <= 45

    async def test_the_real_write_path_stays_within_the_snapshot_bounds(self, client, auth, db, services):
        """The documents the closes really wrote (read back from the emulator) are within the
        limits, and none is larger than the same document written by the rebuild's
        ``snapshot_documents``, whose full-scale sizes the test above bounds."""
        base = datetime(2026, 3, 2, 15, 0, tzinfo=timezone.utc)

        async def trade(i: int) -> None:
            moment = base + timedelta(days=i % 3, minutes=i % 7)
            r = await client.post("/trades/execute", headers=auth(), json={
                "symbol": f"S{i % 20}", "side": "BUY", "quantity": "3", "strategy_id": f"strat-{i % 4}",
                "source": "backtest", "price": "100", "filled_at": moment.isoformat(), "risk_amount": "10"})
            assert r.status_code == 201, r.text
            r = await client.post("/trades/close-shadow", headers=auth(), json={
                "shadow_id": r.json()["id"], "price": f"{100 + (i % 11) - 5}", "closed_at": (moment + timedelta(minutes=30)).isoformat()})
            assert r.status_code == 200, r.text

        for start in range(0, 120, 20):
            await asyncio.gather(*[trade(i) for i in range(start, start + 20)])
        differences = await services.maintenance.verify("alice")
        assert differences == [], "\n".join(differences[:8])
        rec = await services.maintenance.recompute("alice")
        bound: dict[tuple[str, str], int] = {}
        for (collection, doc_id), fields in snapshot_documents(0, rec.facts).items():
            if collection == "aggSeq":  # a minute's entries, whatever shard the load chose
                doc_id = "~".join(doc_id.split("~")[:-1] + ["00"])
            key = (collection, doc_id)
            bound[key] = bound.get(key, 0) + budget.document_size([USERS, "alice", collection, doc_id], fields)
        written = 0
        for collection in AGGREGATE_COLLECTIONS:
            for doc_id, fields in (await user_docs(db, "alice", collection)).items():
                size, _ = _limits(collection, doc_id, fields, uid="alice")
                single = "~".join(doc_id.split("~")[:-1] + ["00"])  # every shard of it in one
                if (collection, single) in bound:
                    assert size <= bound[(collection, single)] + 64, (collection, doc_id)
                written += 1
        assert written > 10


class TestShards:
    async def test_many_shards_add_up_exactly(self, client, auth, publish, execute, db, services):
        await user_ref(db, "alice", "settings", "profile").set({"aggregate_shards": 16}, merge=True)
        await publish("AAPL", bid="100", ask="100.02")
        trades = [await execute(symbol="AAPL", side=random.Random(i).choice(["BUY", "SELL"]), quantity="2")
                  for i in range(40)]
        await publish("AAPL", bid="100.50", ask="100.52")
        await asyncio.gather(*[client.post("/trades/close-shadow", json={"shadow_id": t["id"]}, headers=auth())
                               for t in trades])
        summaries = await user_docs(db, "alice", "aggSummary")
        assert len(summaries) > 4 and sum(d.get("n", 0) for d in summaries.values()) == 40
        assert len(await user_docs(db, "alice", "aggSeq")) >= MIN_SEQUENCE_SHARDS // 2
        assert (await client.get("/api/metrics", headers=auth())).json()["totalTrades"] == 40
        assert await services.maintenance.verify("alice") == []

    async def test_a_read_merges_the_shards_of_settled_periods(self, client, auth, db, services):
        await user_ref(db, "alice", "settings", "profile").set({"aggregate_shards": 16}, merge=True)
        closed = datetime(2025, 6, 3, 15, 0, tzinfo=timezone.utc)  # a settled month and day

        async def trade(i: int) -> None:
            r = await client.post("/trades/execute", headers=auth(), json={
                "symbol": "AAPL", "side": "BUY", "quantity": "1", "strategy_id": f"s{i % 2}", "source": "backtest",
                "price": "100", "filled_at": (closed - timedelta(hours=1)).isoformat()})
            r = await client.post("/trades/close-shadow", headers=auth(), json={
                "shadow_id": r.json()["id"], "price": str(100 + i % 5), "closed_at": closed.isoformat()})
            assert r.status_code == 200, r.text

        await asyncio.gather(*[trade(i) for i in range(30)])
        spread = {c: len(await user_docs(db, "alice", c)) for c in ("aggDays", "aggGroups", "aggCells")}
        assert spread["aggDays"] > 4
        before = (await client.get("/trades/shadow/dashboard", headers=auth())).json()
        await client.get("/trades/shadow/dashboard", params={"strategy_id": "s1"}, headers=auth())
        merged = {c: len(await user_docs(db, "alice", c)) for c in ("aggDays", "aggGroups", "aggCells")}
        assert merged["aggDays"] == 1 and merged["aggGroups"] < spread["aggGroups"]
        assert list(await user_docs(db, "alice", "aggCells")) == ["0~2025-06~m~00"]  # the month, one chunk
        inside = await client.get("/trades/shadow/dashboard", headers=auth(),
                                  params={"strategy_id": "s1", "start_date": "2025-06-02", "end_date": "2025-06-04"})
        assert inside.json()["total_trades"] == 15  # a window inside the merged month still finds its cells
        assert (await client.get("/trades/shadow/dashboard", headers=auth())).json() == before
        assert await services.maintenance.verify("alice") == []

    async def _close_today(self, client, auth, n: int, *, offset: int = 0) -> None:
        """``n`` backtest trades opened and closed now (today in the user's zone), at once."""
        now = datetime.now(timezone.utc)

        async def trade(i: int) -> None:
            r = await client.post("/trades/execute", headers=auth(), json={
                "symbol": ["AAPL", "MSFT", "NVDA"][i % 3], "side": "BUY", "quantity": "1", "strategy_id": f"s{i % 2}",
                "source": "backtest", "price": "100", "filled_at": (now - timedelta(hours=1)).isoformat(),
                "risk_amount": "50"})
            assert r.status_code == 201, r.text
            r = await client.post("/trades/close-shadow", headers=auth(), json={
                "shadow_id": r.json()["id"], "price": str(95 + i % 11), "closed_at": now.isoformat()})
            assert r.status_code == 200, r.text

        await asyncio.gather(*[trade(offset + i) for i in range(n)])

    async def test_a_read_merges_the_idle_shards_of_today(self, client, auth, db, services, monkeypatch):
        from backend.strategy_service.performance import service as perf

        await user_ref(db, "alice", "settings", "profile").set({"aggregate_shards": 16}, merge=True)
        await self._close_today(client, auth, 40)
        spread = {c: len(await user_docs(db, "alice", c)) for c in ("aggDays", "aggGroups", "aggCells")}
        assert spread["aggDays"] > 4 and spread["aggGroups"] > 16
        before = (await client.get("/trades/shadow/dashboard", headers=auth())).json()
        # just written: the shards are not idle yet, and stay
        assert {c: len(await user_docs(db, "alice", c)) for c in ("aggDays", "aggGroups", "aggCells")} == spread
        monkeypatch.setattr(perf, "IDLE_SHARD_SECONDS", 0.0)
        assert (await client.get("/trades/shadow/dashboard", headers=auth())).json() == before
        await client.get("/trades/shadow/dashboard", params={"strategy_id": "s1"}, headers=auth())
        merged = {c: len(await user_docs(db, "alice", c)) for c in ("aggDays", "aggGroups", "aggCells")}
        # one document per partition: the month's day totals, 1 source + 2 strategies + 3
        # symbols in at most 6 group partitions, today's cells in at most 4
        assert merged["aggDays"] == 1 and merged["aggGroups"] <= 6 and merged["aggCells"] <= CELL_PARTITIONS
        ids = [i for c in ("aggDays", "aggGroups", "aggCells") for i in await user_docs(db, "alice", c)]
        assert ids and all(i.endswith("~00") for i in ids)
        assert (await client.get("/trades/shadow/dashboard", headers=auth())).json() == before
        assert await services.maintenance.verify("alice") == []

    async def test_closes_during_merges_of_today_lose_nothing(self, client, auth, db, services, monkeypatch):
        """Closes keep writing today's shards while reads merge them into shard 00 over and
        over: every increment is still there, exactly."""
        from backend.strategy_service.performance import service as perf

        monkeypatch.setattr(perf, "IDLE_SHARD_SECONDS", 0.0)  # merge every shard a read sees,
        monkeypatch.setattr(perf, "ROLLUP_SECONDS", 0.0)  # at every read: the worst contention
        await user_ref(db, "alice", "settings", "profile").set({"aggregate_shards": 8}, merge=True)
        await self._close_today(client, auth, 8)
        stop = asyncio.Event()
        merges = 0

        async def merge_loop() -> None:
            nonlocal merges
            while not stop.is_set():
                r = await client.get("/trades/shadow/dashboard", headers=auth())
                assert r.status_code == 200, r.text
                days = await user_docs(db, "alice", "aggDays")
                if len(days) > 1:  # and a merge straight from the repository, of every shard
                    await services.performance.aggregates.compact("alice", "aggDays", sorted(days))
                merges += 1

        async def closes() -> None:
            try:
                for k in range(6):
                    await self._close_today(client, auth, 10, offset=8 + 10 * k)
                    await asyncio.sleep(0.3)  # the merges get in between the rounds too
            finally:
                stop.set()

        await asyncio.gather(merge_loop(), merge_loop(), closes())
        assert merges >= 4
        r = (await client.get("/trades/shadow/dashboard", headers=auth())).json()
        assert r["total_trades"] == 68
        assert (await client.get("/api/metrics", headers=auth())).json()["totalTrades"] == 68
        assert await services.maintenance.verify("alice") == []

    async def test_a_read_after_the_checkpoint_reads_no_sequence_unless_a_close_came(self, client, auth, services):
        from zoneinfo import ZoneInfo

        from backend.strategy_service.performance.filters import TradeFilter

        now = datetime.now(timezone.utc)
        if now.astimezone(ZoneInfo("America/New_York")).hour == 0 and now.astimezone(ZoneInfo("America/New_York")).minute < 15:
            pytest.skip("needs 15 minutes of today in the user's zone")
        earlier = now - timedelta(minutes=10)
        for i in range(10):
            r = await client.post("/trades/execute", headers=auth(), json={
                "symbol": "AAPL", "side": "BUY", "quantity": "1", "strategy_id": "s", "source": "backtest",
                "price": "100", "filled_at": (earlier - timedelta(minutes=5)).isoformat()})
            await client.post("/trades/close-shadow", headers=auth(), json={
                "shadow_id": r.json()["id"], "price": str(90 + 3 * i), "closed_at": earlier.isoformat()})
        assert (await client.get("/trades/shadow/dashboard", headers=auth())).status_code == 200  # the checkpoint
        reads: list[str] = []
        original = services.performance.aggregates.sequences

        async def sequences(*args, **kwargs):
            reads.append("seq")
            return await original(*args, **kwargs)

        services.performance.aggregates.sequences = sequences
        quiet = await services.performance.load_selection("alice", TradeFilter())
        assert (quiet.folded, quiet.fold.count, reads) == (0, 10, [])  # nothing after the checkpoint: no query
        r = await client.post("/trades/execute", headers=auth(), json={
            "symbol": "AAPL", "side": "BUY", "quantity": "1", "strategy_id": "s", "source": "backtest",
            "price": "100", "filled_at": earlier.isoformat()})
        await client.post("/trades/close-shadow", headers=auth(), json={
            "shadow_id": r.json()["id"], "price": "80", "closed_at": datetime.now(timezone.utc).isoformat()})
        fresh = await services.performance.load_selection("alice", TradeFilter())
        assert (fresh.folded, fresh.fold.count, reads) == (1, 11, ["seq"])  # the new close, folded
        assert await services.maintenance.verify("alice") == []

    def test_group_partitions_spread_the_keys(self):
        parts = {doc_id.split("~")[2] for (c, doc_id) in snapshot_documents(
            0, [_facts(i, date(2026, 1, 2), i, 0) for i in range(300)]) if c == "aggGroups"}
        assert len(parts) == GROUP_PARTITIONS


class TestRebuildBesideLiveCloses:
    async def test_closes_during_a_rebuild_count_once_in_the_new_generation(self, client, auth, publish, execute, services):
        await publish("AAPL", bid="100", ask="100.02")
        before = [await execute(symbol="AAPL", side="BUY", quantity="1") for _ in range(12)]
        during = [await execute(symbol="AAPL", side="SELL", quantity="2") for _ in range(12)]
        await publish("AAPL", bid="101", ask="101.02")
        for t in before:
            assert (await client.post("/trades/close-shadow", json={"shadow_id": t["id"]}, headers=auth())).status_code == 200

        async def close_slowly() -> None:
            for t in during:
                r = await client.post("/trades/close-shadow", json={"shadow_id": t["id"]}, headers=auth())
                assert r.status_code == 200, r.text
                await asyncio.sleep(0.03)

        result, _ = await asyncio.gather(services.maintenance.rebuild("alice"), close_slowly())
        settings = await services.users.get("alice")
        assert settings.aggregates.number == result["generation"] == 1 and settings.rebuild is None
        assert (await client.get("/api/metrics", headers=auth())).json()["totalTrades"] == 24
        assert await services.maintenance.verify("alice") == []


class TestStorageRefusals:
    @pytest.mark.parametrize("refusal", [gexc.InvalidArgument("entity too big"),
                                         gexc.FailedPrecondition("too many index entries for entity")],
                             ids=["invalid-argument", "too-many-index-entries"])
    async def test_a_permanent_refusal_is_500_storage_rejected_and_never_retried(
            self, client, auth, publish, execute, monkeypatch, refusal):
        await publish("AAPL", price="100")
        trade = await execute(symbol="AAPL", side="BUY", quantity="1")
        calls = []

        async def refuse(self, *args, **kwargs):
            calls.append(1)
            raise refusal

        with monkeypatch.context() as patch:
            patch.setattr(AsyncWriteBatch, "commit", refuse)
            r = await client.post("/trades/close-shadow", json={"shadow_id": trade["id"]}, headers=auth())
        assert r.status_code == 500 and r.json()["error"]["code"] == "storage_rejected", r.text
        assert len(calls) == 1  # no retry loop, no 409
        got = (await client.get(f"/trades/shadow/{trade['id']}", headers=auth())).json()
        assert got["status"] == "OPEN"
        r = await client.post("/trades/close-shadow", json={"shadow_id": trade["id"]}, headers=auth())
        assert r.status_code == 200 and r.json()["status"] == "CLOSED"  # once storage accepts again


class TestOpenNotionalReconciled:
    async def test_a_rebuild_backfills_the_open_notional_of_positions_opened_before_it_was_kept(
            self, client, auth, db, services):
        bt = {"symbol": "AAPL", "side": "BUY", "quantity": "10", "strategy_id": "s1", "source": "backtest",
              "price": "100", "filled_at": (datetime.now(timezone.utc) - timedelta(days=1)).isoformat()}
        for _ in range(3):
            assert (await client.post("/trades/execute", json=bt, headers=auth())).status_code == 201
        async for s in db.collection(USERS, "alice", "openNotional").stream():  # as before it was kept
            await s.reference.delete()
        assert any("open notional" in p for p in await services.maintenance.verify("alice"))
        result = await services.maintenance.rebuild("alice")
        assert result["open_notional_cents"] == 300_000  # 3 x 1,000.00 USD
        assert await services.maintenance.verify("alice") == []
        assert (await services.maintenance.rebuild("alice"))["open_notional_cents"] == 0


class TestAbandonedGenerations:
    async def test_a_rebuild_deletes_a_half_built_generation_a_time_zone_change_replaced(self, client, auth, db,
                                                                                         services):
        from backend.strategy_service.users.service import generation_doc
        from zoneinfo import ZoneInfo
        settings = user_ref(db, "alice", "settings", "profile")
        # a rebuild to generation 1 stopped halfway, then a time-zone change asked for generation 2
        await user_ref(db, "alice", "aggSummary", "1~00").set({"n": 5})
        await user_ref(db, "alice", "aggSignals", "1~2026-11-20~3~00").set({"c": {"s1|AAPL": {"s": 1}}})
        await settings.set({"timezone": "Asia/Tokyo", "rebuild": generation_doc(2, ZoneInfo("Asia/Tokyo"), "pending")},
                           merge=True)
        result = await services.maintenance.rebuild("alice")
        assert result["generation"] == 2
        for collection in ("aggSummary", "aggSignals"):
            assert not [i for i in await user_docs(db, "alice", collection) if i.startswith("1~")], collection
        assert await services.maintenance.verify("alice") == []
