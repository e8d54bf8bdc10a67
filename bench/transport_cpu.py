"""Client CPU per Firestore call of the trade path's call shapes, by transport of the
public ``google-cloud-firestore`` API (decision D29's next levers), in CPU microseconds of
this process (``time.process_time``: every thread, user + system; the emulator's CPU is
not counted).

    scripts/with-emulator .venv/bin/python bench/transport_cpu.py [--calls 500] \\
        [--concurrency 10] [--repeats 3] [--loop uvloop]

Variants, each called from the event loop (uvloop by default, as ``strategy-service serve``
runs uvicorn with ``loop="auto"`` and uvloop installed):

- ``async``: ``firestore.AsyncClient`` (the service today: gRPC aio, ``grpc_asyncio``).
- ``thread``: ``firestore.Client`` (sync, gRPC), each call run whole in a worker thread
  by ``anyio.to_thread.run_sync`` (as FastAPI runs sync code).
- ``rest``: the same sync client over the GAPIC client's REST transport, in a thread.
  ``firestore.Client`` has no public way to pick REST: its ``_firestore_api`` builds a
  ``FirestoreGrpcTransport`` and nothing else. For this measurement only, a public GAPIC
  ``FirestoreClient(transport="rest")`` is put in the client's private
  ``_firestore_api_internal`` before the first call.

Calls, the shapes of a paper trade (section 3 of docs/performance.md):

- ``get14``: ``get_all`` of 14 small documents (``BatchGetDocuments``, server streaming):
  an execute's read (flag, settings, 2 cost documents, 8 open-notional shards, a quote, a
  signal).
- ``get2``: ``get_all`` of 2 (settings + quote): the close's second read.
- ``get1``: ``DocumentReference.get`` of one trade document: the library sends a
  ``BatchGetDocuments`` of 1 (the close's first read on main).
- ``unary1``: the same document by ``GetDocument`` (unary) on the library's GAPIC client
  (``client._firestore_api``; the fields decoded by ``_helpers.decode_dict``): branch
  cpu2's shape of that read, reached through private names, for comparison only.
- ``create``: a batch of the execute: ``create`` of a trade document (33 fields) and one
  ``Increment`` of an open-notional shard.
- ``close``: a close's batch: the trade's ``update`` (15 fields, one a delete; ``update``
  sends an ``exists`` precondition), the open-notional ``Increment`` and the aggregate
  merge-writes of ``performance.repository.close_writes`` (``Increment``, ``Maximum`` and
  ``Minimum`` transforms): 9 writes, 50 field transforms.

``--concurrency`` coroutines loop each call until ``--calls`` are done; every (call,
variant) is measured ``--repeats`` times, the variants alternating (their order rotated
each round), after a warm-up of its own; the table gives medians (and the range).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time
import uuid
from datetime import date, datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

VARIANTS = ("async", "thread", "rest")
CALLS = ("get14", "get2", "get1", "unary1", "create", "close")
TIMEOUT = 10.0


def small(i: int) -> dict:
    return {"cents": 1000 + i, "updated_at": datetime.now(timezone.utc), "note": f"doc {i}"}


def trade_doc(trade_id: str) -> dict:
    now = datetime.now(timezone.utc)
    doc = {f"s{i}": f"value-{i}-{trade_id[:6]}" for i in range(12)}
    doc.update({f"d{i}": f"{123.45 + i:.4f}" for i in range(10)})
    doc.update({f"t{i}": now for i in range(4)})
    doc.update({"id": trade_id, "uid": "u", "status": "OPEN", "quantity": 1, "is_open": True,
                "client": {"signal_id": "sig-1", "note": "bench"},
                "trigger": {"stop": "99.5", "target": "120.25"}})
    return doc


def close_fields() -> dict:
    from google.cloud import firestore

    now = datetime.now(timezone.utc)
    fields = {f"c{i}": f"{10.5 + i:.4f}" for i in range(10)}
    fields.update({"status": "CLOSED", "closed_at": now, "last_updated": now, "exit_reason": "manual",
                   "trigger": firestore.DELETE_FIELD})
    return fields


class Shapes:
    """The documents and the batch builders of the calls, for one client."""

    def __init__(self, client, uid: str) -> None:
        from google.cloud import firestore

        from backend.strategy_service.core.aggregates import TradeFacts
        from backend.strategy_service.performance.repository import close_writes

        self.client, self.uid = client, uid
        user = client.collection("users").document(uid)
        self.refs14 = [client.collection("systemStatus").document("config"),
                       user.collection("meta").document("settings"),
                       user.collection("strategies").document("s1"),
                       user.collection("strategies").document("default"),
                       *[user.collection("openNotional").document(f"{k:02d}") for k in range(8)],
                       client.collection("liveQuotes").document("AAPL"),
                       user.collection("signals").document("sig-1")]
        self.refs2 = [self.refs14[1], self.refs14[12]]
        self.trade_ref = user.collection("shadowTradeHistory").document("t-read")
        self.trades = user.collection("shadowTradeHistory")
        self.open_ref = self.refs14[4]
        self.firestore = firestore
        self.close_writes, self.TradeFacts = close_writes, TradeFacts
        self.n = 0

    def seed_docs(self) -> list[tuple]:
        seeds = [(ref, small(i)) for i, ref in enumerate(self.refs14)]
        return seeds + [(self.trade_ref, trade_doc("t-read"))]

    def create_batch(self):
        self.n += 1
        batch = self.client.batch()
        trade_id = uuid.uuid4().hex
        batch.create(self.trades.document(trade_id), trade_doc(trade_id))
        batch.set(self.open_ref, {"cents": self.firestore.Increment(1234)}, merge=True)
        return batch

    def close_batch(self):
        self.n += 1
        batch = self.client.batch()
        batch.update(self.trade_ref, close_fields())  # update: an exists precondition
        batch.set(self.open_ref, {"cents": self.firestore.Increment(-1234)}, merge=True)
        facts = self.TradeFacts(trade_id=uuid.uuid4().hex, closed_at_us=1_767_000_000_000_000,
                                day=date(2026, 1, 5), source="paper", strategy_id="strat-1", symbol="AAPL",
                                pnl_cents=1234 - self.n % 3000,
                                r_units=5000, risk_cents=2000, hold_us=3_600_000_000, minute=self.n % 1440,
                                commission_cents=100, slippage_cents=50)
        user = self.client.collection("users").document(self.uid)
        for collection, doc_id, fields in self.close_writes(1, facts, 1):
            batch.set(user.collection(collection).document(doc_id), fields, merge=True)
        return batch


def _pairs(snaps) -> list:
    return [(s.to_dict(), s.update_time) for s in snaps]


def make_async(client, shapes: Shapes):
    from google.cloud.firestore_v1 import _helpers

    async def get_all(refs):
        return _pairs([s async for s in client.get_all(refs, timeout=TIMEOUT)])

    async def get1():
        s = await shapes.trade_ref.get(timeout=TIMEOUT)
        return s.to_dict(), s.update_time

    async def unary1():
        doc = await client._firestore_api.get_document(request={"name": shapes.trade_ref._document_path},
                                                        metadata=client._rpc_metadata, timeout=TIMEOUT)
        return _helpers.decode_dict(doc.fields, client), doc.update_time

    async def create():
        return await shapes.create_batch().commit(timeout=TIMEOUT)

    async def close():
        return await shapes.close_batch().commit(timeout=TIMEOUT)

    return {"get14": lambda: get_all(shapes.refs14), "get2": lambda: get_all(shapes.refs2), "get1": get1,
            "unary1": unary1, "create": create, "close": close}


def make_thread(client, shapes: Shapes):
    import anyio.to_thread
    from google.cloud.firestore_v1 import _helpers

    def get_all(refs):
        return _pairs(client.get_all(refs, timeout=TIMEOUT))

    def get1():
        s = shapes.trade_ref.get(timeout=TIMEOUT)
        return s.to_dict(), s.update_time

    def unary1():
        doc = client._firestore_api.get_document(request={"name": shapes.trade_ref._document_path},
                                                 metadata=client._rpc_metadata, timeout=TIMEOUT)
        return _helpers.decode_dict(doc.fields, client), doc.update_time

    def create():
        return shapes.create_batch().commit(timeout=TIMEOUT)

    def close():
        return shapes.close_batch().commit(timeout=TIMEOUT)

    run = anyio.to_thread.run_sync
    return {"get14": lambda: run(get_all, shapes.refs14), "get2": lambda: run(get_all, shapes.refs2),
            "get1": lambda: run(get1), "unary1": lambda: run(unary1), "create": lambda: run(create),
            "close": lambda: run(close)}


def sync_client(project: str, rest: bool):
    from google.cloud import firestore

    client = firestore.Client(project=project)
    if rest:
        from google.api_core import _rest_streaming_base as streaming

        if not getattr(streaming.BaseResponseIterator, "_bench_patched", False):
            # the emulator ends a streamed REST answer with "]\n"; api_core reads it one
            # character a chunk and refuses anything but "[" between arrays: skip whitespace there
            process = streaming.BaseResponseIterator._process_chunk

            def _process_chunk(self, chunk: str) -> None:
                if self._level == 0 and chunk.isspace():
                    return
                process(self, chunk)

            streaming.BaseResponseIterator._process_chunk = _process_chunk
            streaming.BaseResponseIterator._bench_patched = True
        from google.api_core.client_options import ClientOptions
        from google.cloud.firestore_v1.services.firestore import FirestoreClient
        from google.oauth2.credentials import Credentials

        # the emulator answers REST on its gRPC port; "Bearer owner" passes its rules, as
        # the library's own emulator channel does
        client._firestore_api_internal = FirestoreClient(
            transport="rest", credentials=Credentials(token="owner"),
            client_options=ClientOptions(api_endpoint=f"http://{os.environ['FIRESTORE_EMULATOR_HOST']}"))
    return client


async def measure(fn, calls: int, concurrency: int) -> tuple[float, float]:
    """(calls per second, CPU us per call) of ``calls`` calls by ``concurrency`` callers."""
    left = calls

    async def caller() -> None:
        nonlocal left
        while left > 0:
            left -= 1
            await fn()

    t0, w0 = time.process_time(), time.perf_counter()
    await asyncio.gather(*(caller() for _ in range(concurrency)))
    cpu, wall = time.process_time() - t0, time.perf_counter() - w0
    return calls / wall, cpu / calls * 1e6


async def run(args) -> None:
    from google.cloud import firestore

    if not os.environ.get("FIRESTORE_EMULATOR_HOST"):
        sys.exit("transport_cpu needs FIRESTORE_EMULATOR_HOST (run it under scripts/with-emulator)")
    project = f"demo-tr{uuid.uuid4().hex[:8]}"
    aclient = firestore.AsyncClient(project=project)
    tclient, rclient = sync_client(project, False), sync_client(project, True)
    shapes = {"async": Shapes(aclient, "u"), "thread": Shapes(tclient, "u"), "rest": Shapes(rclient, "u")}
    seeding = tclient.batch()
    for ref, data in shapes["thread"].seed_docs():
        seeding.set(ref, data)
    seeding.commit()
    fns = {"async": make_async(aclient, shapes["async"]), "thread": make_thread(tclient, shapes["thread"]),
           "rest": make_thread(rclient, shapes["rest"])}
    probe = shapes["thread"].close_batch()
    print(f"# close batch: {len(probe._write_pbs)} writes, "
          f"{sum(len(w.update_transforms) for w in probe._write_pbs)} field transforms; "
          f"create batch: {len(shapes['thread'].create_batch()._write_pbs)} writes")
    print(f"# loop {args.loop}, {args.concurrency} concurrent callers, {args.calls} calls a measurement, "
          f"{args.repeats} rounds, load average at start {os.getloadavg()[0]:.2f}")
    for variant in args.variant:  # the sanity check: every variant reads the seeded documents
        docs = await fns[variant]["get14"]()
        assert sum(d is not None for d, _ in docs) == 14, (variant, docs)
        assert (await fns[variant]["unary1"]())[0]["id"] == "t-read"
    results: dict[tuple[str, str], list[tuple[float, float]]] = {}
    loads = []
    for rnd in range(args.repeats):
        k = rnd % len(args.variant)
        order = args.variant[k:] + args.variant[:k]
        loads.append(os.getloadavg()[0])
        for call in args.call:
            for variant in order:
                fn = fns[variant][call]
                await measure(fn, max(args.calls // 10, 30), args.concurrency)  # warm-up
                r = await measure(fn, args.calls, args.concurrency)
                results.setdefault((variant, call), []).append(r)
                print(f"  round {rnd + 1} {variant:<7} {call:<7} {r[0]:>8.0f} calls/s "
                      f"{r[1]:>8.0f} CPU us/call",
                      flush=True)
    loads.append(os.getloadavg()[0])
    print(f"\n## CPU us per call, median of {args.repeats} (min-max); "
          "load average (1 min) during the rounds: "
          + ", ".join(f"{x:.2f}" for x in loads))
    print(f"| variant | call | calls/s | CPU us per call | range |\n| --- | --- | ---: | ---: | ---: |")
    med: dict[tuple[str, str], float] = {}
    for call in args.call:
        for variant in args.variant:
            rs = results[(variant, call)]
            med[(variant, call)] = statistics.median(c for _, c in rs)
            rate = statistics.median(r for r, _ in rs)
            print(f"| {variant} | {call} | {rate:,.0f} | **{med[(variant, call)]:,.0f}** "
                  f"| {min(c for _, c in rs):,.0f}-{max(c for _, c in rs):,.0f} |")
    if set(CALLS) <= set(args.call):
        print("\n## Storage calls of one paper trade, client CPU us (medians added)")
        print("| variant | main's shapes: get14 + create + get1 + get2 + close | with unary1 for get1 |\n"
              "| --- | ---: | ---: |")
        for variant in args.variant:
            m = {c: med[(variant, c)] for c in CALLS}
            base = m["get14"] + m["create"] + m["get2"] + m["close"]
            print(f"| {variant} | {base + m['get1']:,.0f} | {base + m['unary1']:,.0f} |")
    aclient.close()
    tclient.close()
    rclient.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=500)
    parser.add_argument("--concurrency", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--loop", choices=("uvloop", "asyncio"), default="uvloop")
    parser.add_argument("--call", action="append", choices=CALLS, help="only these calls (repeatable)")
    parser.add_argument("--variant", action="append", choices=VARIANTS,
                        help="only these variants (repeatable)")
    args = parser.parse_args()
    args.call = args.call or list(CALLS)
    args.variant = tuple(v for v in VARIANTS if v in (args.variant or VARIANTS))
    if args.loop == "uvloop":
        import uvloop

        uvloop.run(run(args))
    else:
        asyncio.run(run(args))


if __name__ == "__main__":
    main()
