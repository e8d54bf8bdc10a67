"""What mock-firestore 0.11 offers against what the Strategy Service's storage layer uses
(docs/decisions.md, D17). It needs mock-firestore, which the project does not install:

    python3 -m venv /tmp/mfv && /tmp/mfv/bin/pip install mock-firestore==0.11.0 google-cloud-firestore
    /tmp/mfv/bin/python bench/probes/mock_firestore.py
"""
import inspect
import mockfirestore
from mockfirestore import MockFirestore
db = MockFirestore()
ref = db.collection("users").document("u").collection("t").document("x")
checks = {}
checks["async client (AsyncClient / awaitable get)"] = hasattr(mockfirestore, "AsyncMockFirestore") or inspect.iscoroutinefunction(ref.get)
checks["DocumentReference.create()"] = hasattr(ref, "create")
try:
    ref.set({"a": 1}); ref.update({"a": 2}, option=object()); checks["update(option=precondition)"] = "accepted silently (not enforced)"
except TypeError as e:
    checks["update(option=precondition)"] = f"TypeError: {e}"
from google.cloud import firestore
try:
    ref.set({"n": firestore.Increment(1)}, merge=True); v = ref.get().to_dict().get("n")
    checks["Increment transform"] = f"stored {type(v).__name__}: {v!r}"
except Exception as e:
    checks["Increment transform"] = f"{type(e).__name__}: {e}"
checks["transaction(read_only=True)"] = hasattr(db, "transaction")
try:
    b = db.batch(); checks["batch()"] = True
except Exception as e:
    checks["batch()"] = f"{type(e).__name__}"
checks["collection_group()"] = hasattr(db, "collection_group")
checks["get_all()"] = hasattr(db, "get_all")
for k, v in checks.items():
    print(f"{k}: {v}")
ref.set({"n": firestore.Increment(1)}, merge=True); ref.set({"n": firestore.Increment(1)}, merge=True)
print("Increment twice ->", ref.get().to_dict().get("n"))
try:
    ref.set({"m": firestore.Maximum(5)}, merge=True); print("Maximum ->", ref.get().to_dict().get("m"))
except Exception as e:
    print("Maximum:", type(e).__name__, e)
try:
    ref.set({"c": {"k": {"n": firestore.Increment(1)}}}, merge=True); ref.set({"c": {"k": {"n": firestore.Increment(1)}}}, merge=True)
    print("nested map Increment twice ->", ref.get().to_dict().get("c"))
except Exception as e:
    print("nested:", type(e).__name__, e)
t = db.transaction(); print("transaction type:", type(t).__module__, type(t).__name__)
