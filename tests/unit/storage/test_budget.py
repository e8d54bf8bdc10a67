"""``storage/budget.py``: Firestore's documented size and index-entry rules, checked by
hand-computable tables (the docs' own examples first) and properties."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from backend.strategy_service.storage import budget
from backend.strategy_service.storage.budget import (
    IndexConfig,
    document_name_size,
    document_size,
    index_entries,
    load_overrides,
    overrides_from_json,
    string_size,
    transform_count,
    value_size,
)

ROOT = Path(__file__).resolve().parents[3]


# -- stand-ins for the client library's sentinels (duck-typed, as budget.py expects) -------------
class Increment:
    def __init__(self, value):
        self.value = value


class Sentinel:
    def __init__(self, description):
        self.description = description


SERVER_TIMESTAMP = Sentinel("Value used to set a document field to the server timestamp.")
DELETE_FIELD = Sentinel("Value used to delete a field in a document.")


# -- "Storage size calculations": the docs' worked examples --------------------------------------
def test_string_sizes_of_the_docs():
    assert string_size("tasks") == 6
    assert string_size("description") == 12
    assert string_size("é") == 3  # 2 UTF-8 bytes + 1


def test_document_name_sizes_of_the_docs():
    assert document_name_size(["users", "jeff", "tasks", "my_task_id"]) == 6 + 5 + 6 + 11 + 16 == 44
    # the older page's examples: collection "Task", a numeric id (8 bytes) or "my_task_id"
    assert document_name_size(["Task", 5]) == 5 + 8 + 16 == 29
    assert document_name_size(["Task", "my_task_id"]) == 5 + 11 + 16 == 32


def test_the_docs_tasks_document_is_147_bytes():
    data = {"type": "Personal", "done": False, "priority": 1, "description": "Learn Cloud Firestore"}
    fields = {name: string_size(name) + value_size(v) for name, v in data.items()}
    assert fields == {"type": 14, "done": 6, "priority": 17, "description": 34}
    assert sum(fields.values()) == 71
    assert document_size(["users", "jeff", "tasks", "my_task_id"], data) == 44 + 71 + 32 == 147


@pytest.mark.parametrize(
    ("value", "size"),
    [
        (None, 1),
        (True, 1),
        (7, 8),
        (2.5, 8),
        ("", 1),
        ("abc", 4),
        (b"\x00\x01\x02", 3),
        (datetime(2026, 1, 2, tzinfo=timezone.utc), 8),
        ([1, "ab", None], 8 + 3 + 1),
        ({"n": 1, "pnl": 2}, (2 + 8) + (4 + 8)),
        ({"m": {"x": True}}, 2 + (2 + 1)),
        (Increment(5), 8),
        (Increment(1.5), 8),
        (SERVER_TIMESTAMP, 8),
    ],
)
def test_value_sizes(value, size):
    assert value_size(value) == size


def test_map_overhead_is_optional_upper_bound():
    assert value_size({"a": 1}, map_overhead=32) == 32 + 2 + 8


def test_delete_field_counts_nothing():
    assert document_size(["c", "d"], {"x": DELETE_FIELD}) == document_size(["c", "d"], {})


def test_unknown_type_is_refused():
    with pytest.raises(TypeError):
        value_size(object())


# -- transforms -----------------------------------------------------------------------------------
def test_transform_count():
    write = {
        "c": {"k": {"n": Increment(1), "pnl": Increment(-5), "mx": Increment(3)}},
        "t": {"id": [1, 2, "paper"]},
        "updated_at": SERVER_TIMESTAMP,
        "gone": DELETE_FIELD,
        "plain": 4,
    }
    assert transform_count(write) == 4


# -- index entries ("Index overview", automatic indexing) ----------------------------------------
@pytest.mark.parametrize(
    ("data", "entries"),
    [
        ({}, 0),
        ({"a": 1}, 2),
        ({"a": 1, "b": "x"}, 4),
        ({"m": {}}, 2),  # the map value itself
        ({"m": {"x": 1, "y": 2}}, 2 + 2 + 2),
        ({"m": {"n": {"x": 1}}}, 2 + 2 + 2),
        ({"arr": [1, 2, 2]}, 2 + 2),  # whole array asc/desc + 2 distinct elements
        ({"arr": []}, 2),
        ({"t": {"id1": [1, 2, "a", "b", "c"]}}, 2 + 2 + 5),  # a day-sequence entry: 7 + the map
        ({"ts": SERVER_TIMESTAMP, "n": Increment(1)}, 4),
    ],
)
def test_automatic_index_entries(data, entries):
    assert index_entries("things", data) == entries


def test_a_cell_of_fifteen_counters_is_32_entries():
    cell = {name: 1 for name in ("n", "w", "l", "e", "pnl", "gp", "gl", "rn", "rs", "rq", "rk", "hn", "hs", "mx", "mn")}
    assert index_entries("pnlMonths", {"c": {"k": cell}}) - index_entries("pnlMonths", {"c": {}}) == 32


def test_exemption_of_a_map_covers_everything_under_it():
    config = overrides_from_json({"fieldOverrides": [{"collectionGroup": "pnlMonths", "fieldPath": "c", "indexes": []}]})
    data = {"c": {"k": {"n": 1, "w": 2}}, "updated_at": datetime(2026, 1, 1, tzinfo=timezone.utc)}
    assert index_entries("pnlMonths", data) == 2 + 2 + 4 + 2
    assert index_entries("pnlMonths", data, config) == 2  # updated_at only
    # another collection group is untouched
    assert index_entries("pnlDays", data, config) == 10


def test_deeper_override_beats_the_ancestor():
    config = overrides_from_json(
        {
            "fieldOverrides": [
                {"collectionGroup": "g", "fieldPath": "c", "indexes": []},
                {"collectionGroup": "g", "fieldPath": "c.keep", "indexes": [{"order": "ASCENDING", "queryScope": "COLLECTION"}]},
            ]
        }
    )
    assert index_entries("g", {"c": {"keep": 1, "drop": 2}}, config) == 1


def test_star_override_is_the_group_default():
    config = overrides_from_json({"fieldOverrides": [{"collectionGroup": "g", "fieldPath": "*", "indexes": []}]})
    assert index_entries("g", {"a": 1, "m": {"x": 1}}, config) == 0


def test_backtick_field_paths():
    assert budget.parse_field_path("b.`source|paper`.n") == ("b", "source|paper", "n")
    assert budget.parse_field_path("`a.b`") == ("a.b",)
    assert budget.parse_field_path("`x\\`y`") == ("x`y",)


def test_the_projects_own_index_file():
    config = load_overrides(ROOT / "firestore.indexes.json")
    trade = {"status": "OPEN", "created_at": datetime(2026, 1, 1, tzinfo=timezone.utc)}
    # status: ascending in collection and collection-group scope (2); created_at: automatic (2);
    # two composite indexes, each with all its fields present: (status, created_at), (created_at)
    assert index_entries("shadowTradeHistory", trade, config) == 2 + 2 + 1 + 1
    assert index_entries("shadowTradeHistory", {"status": "OPEN"}, config) == 2


def test_composite_array_contains_multiplies_by_distinct_elements():
    config = overrides_from_json(
        {"indexes": [{"collectionGroup": "g", "fields": [
            {"fieldPath": "tags", "arrayConfig": "CONTAINS"}, {"fieldPath": "n", "order": "ASCENDING"}]}]}
    )
    assert index_entries("g", {"tags": ["a", "b", "a"], "n": 1}, config) == (2 + 2) + 2 + 2


# -- properties ---------------------------------------------------------------------------------
keys = st.text(min_size=1, max_size=6)
scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-(2**63), 2**63 - 1), st.floats(allow_nan=False), st.text(max_size=8),
    st.binary(max_size=8),
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(keys, inner, max_size=4)),
    max_leaves=12,
)
docs = st.dictionaries(keys, values, max_size=6)
path = ["users", "u1", "pnlMonths", "2026-01"]


@given(docs, docs)
def test_size_is_additive_over_fields(a, b):
    b = {k: v for k, v in b.items() if k not in a}
    fixed = document_name_size(path) + budget.DOCUMENT_EXTRA_BYTES
    assert document_size(path, {**a, **b}) == document_size(path, a) + document_size(path, b) - fixed


@given(docs, docs)
def test_index_entries_are_additive_over_fields(a, b):
    b = {k: v for k, v in b.items() if k not in a}
    assert index_entries("g", {**a, **b}) == index_entries("g", a) + index_entries("g", b)


def _paths(data, prefix=()):
    for k, v in data.items():
        yield prefix + (k,)
        if isinstance(v, dict):
            yield from _paths(v, prefix + (k,))


@given(docs, st.data())
def test_exempting_a_field_never_increases_index_entries(data, draw):
    paths = list(_paths(data))
    if not paths:
        return
    chosen = draw.draw(st.sampled_from(paths))
    before = index_entries("g", data)
    config = IndexConfig(overrides={("g", chosen): budget.EXEMPT})
    assert index_entries("g", data, config) <= before


@given(docs)
def test_transform_free_documents_have_no_transforms(data):
    assert transform_count(data) == 0
