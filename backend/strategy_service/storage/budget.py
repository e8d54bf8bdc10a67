"""Firestore's production limits, computed for a document before it is written.

Pure code: no Google or FastAPI import. The emulator enforces the 1 MiB document size but
not the 40,000 index entries per document, the 500 field transforms per document per
commit, nor the index configuration (measured on the team's machines), so the suite computes
them here, by the documented rules:

- sizes: Firestore documentation, "Storage size calculations"
  (https://firebase.google.com/docs/firestore/storage-size);
- index entries: "Index overview" (Standard edition; the automatic single-field indexes
  and their exemptions) and "Manage indexes" (``firestore.indexes.json``);
- limits: "Quotas and limits" (https://cloud.google.com/firestore/quotas).

Transform sentinels (``Increment``, ``Maximum``, ``Minimum``, ``SERVER_TIMESTAMP``,
``ArrayUnion``, ``ArrayRemove``) are recognised by duck typing (see
:func:`is_transform`), so this module never imports ``google.cloud``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

# -- limits ("Quotas and limits") ------------------------------------------------------------

#: "Maximum size for a document: 1 MiB (1,048,576 bytes)".
MAX_DOCUMENT_BYTES = 1_048_576
#: "Maximum size of a field value: 1 MiB - 89 bytes (1,048,487 bytes)".
MAX_FIELD_VALUE_BYTES = 1_048_487
#: "Maximum size of a field name: 1,500 bytes" (and of a field path).
MAX_FIELD_NAME_BYTES = 1_500
#: "Maximum number of index entries for each document: 40,000" ("The number of index
#: entries is the sum of the following for a document: the number of single-field index
#: entries, the number of composite index entries"). Production answers a write past it
#: with "too many index entries for entity" (a FailedPrecondition); the emulator accepts it.
MAX_INDEX_ENTRIES_PER_DOCUMENT = 40_000
#: "Maximum number of field transformations that can be performed on a single document in
#: a Commit operation or in a transaction: 500". Per document, per commit: two documents of
#: one batch may have 500 each.
MAX_FIELD_TRANSFORMS_PER_DOCUMENT = 500
#: "Maximum API request size: 10 MiB" (one Commit request: every write of a batch).
MAX_REQUEST_BYTES = 10 * 1024 * 1024
#: Writes per Commit. The current "Writes and transactions" table of the quotas page lists
#: no per-commit write count (its rows: API request size, field transformations per
#: document, transaction time limit); older versions of the page listed "Maximum number of
#: writes that can be passed to a Commit operation or performed in a transaction: 500".
#: Kept as the conservative bound; the request size is the limit that binds in practice.
MAX_WRITES_PER_COMMIT_LEGACY = 500
#: "Maximum depth of fields in a map or array: 20".
MAX_FIELD_DEPTH = 20

# -- sizes ("Storage size calculations") ------------------------------------------------------

#: "The size of a document name is the sum of: the size of each collection ID and document
#: ID in the path to the document; 16 additional bytes".
DOCUMENT_NAME_EXTRA_BYTES = 16
#: "The size of a document is the sum of: the document name size, the sum of the string
#: size of each field name, the sum of the size of each field value, 32 additional bytes".
DOCUMENT_EXTRA_BYTES = 32
#: Boolean, Null: "1 byte"; Integer, Floating-point number, Date and time: "8 bytes";
#: Geographical point: "16 bytes"; Vector: "8 bytes per dimension".
BOOL_BYTES = NULL_BYTES = 1
NUMBER_BYTES = TIMESTAMP_BYTES = 8
GEOPOINT_BYTES = 16


def string_size(text: str) -> int:
    """"String sizes are calculated as the number of UTF-8 encoded bytes + 1" (collection
    IDs, string document IDs, document names, field names, string values)."""
    return len(text.encode("utf-8")) + 1


def document_name_size(path_segments: Iterable[str | int]) -> int:
    """Size of a document name ("Document name size"): every collection ID and document ID
    of the path (string size, or 8 bytes for an integer ID) plus 16 bytes.

    Args:
        path_segments: ``["users", "jeff", "tasks", "my_task_id"]`` (44 bytes, the docs'
            example).
    """
    total = DOCUMENT_NAME_EXTRA_BYTES
    for segment in path_segments:
        total += NUMBER_BYTES if isinstance(segment, int) and not isinstance(segment, bool) else string_size(str(segment))
    return total


# -- transform sentinels, duck-typed ------------------------------------------------------------


def _sentinel_description(value: Any) -> str:
    return str(getattr(value, "description", "")).lower() if type(value).__name__ == "Sentinel" else ""


def is_server_timestamp(value: Any) -> bool:
    """True for ``firestore.SERVER_TIMESTAMP`` (a ``Sentinel`` whose description names the
    server timestamp)."""
    return "server timestamp" in _sentinel_description(value)


def is_delete_field(value: Any) -> bool:
    """True for ``firestore.DELETE_FIELD`` (not a transform: it goes to the update mask)."""
    return "delete a field" in _sentinel_description(value)


def is_numeric_transform(value: Any) -> bool:
    """True for ``Increment``/``Maximum``/``Minimum``: an object (not a plain number) with a
    numeric ``.value``."""
    if isinstance(value, (int, float, str, bytes, list, dict, datetime, date)) or value is None:
        return False
    inner = getattr(value, "value", None)
    return isinstance(inner, (int, float)) and not isinstance(inner, bool)


def is_array_transform(value: Any) -> bool:
    """True for ``ArrayUnion``/``ArrayRemove``: an object (not a list) with a list ``.values``."""
    return not isinstance(value, (list, tuple, dict)) and isinstance(getattr(value, "values", None), list)


def is_transform(value: Any) -> bool:
    """The default transform predicate: a value that the client sends as a field transform
    rather than a field value (server timestamp, numeric and array transforms)."""
    return is_server_timestamp(value) or is_numeric_transform(value) or is_array_transform(value)


# -- document size -----------------------------------------------------------------------------


def value_size(value: Any, *, map_overhead: int = 0) -> int:
    """Size of one field value, "Field value size" table.

    Strings UTF-8 + 1; int and float 8; bool and None 1; ``datetime``/``date`` 8; bytes
    their length; a list the sum of its elements; a dict the sum over its entries of
    (key string size + value size); a ``(lat, lng)`` object with ``latitude`` and
    ``longitude`` 16; an object with a ``.path`` (a document reference) the size of that
    document name. A transform sentinel is sized as the value it produces: numeric
    transforms and the server timestamp 8, array transforms the array of their values
    (the stored array after an ``ArrayUnion`` may be larger: this is the written part).

    Args:
        value: the Python value as given to the client library.
        map_overhead: bytes added per map. The docs size a map "calculated the same way as
            document size", which read literally could include the document's 32 extra
            bytes; the usual reading (and the default) is 0: key sizes plus value sizes.
            Pass 32 for an upper bound.

    Raises:
        TypeError: a value of no Firestore type.
    """
    if value is None:
        return NULL_BYTES
    if isinstance(value, bool):
        return BOOL_BYTES
    if isinstance(value, (int, float)):
        return NUMBER_BYTES
    if isinstance(value, str):
        return string_size(value)
    if isinstance(value, (bytes, bytearray, memoryview)):
        return len(bytes(value))
    if isinstance(value, (datetime, date)):
        return TIMESTAMP_BYTES
    if isinstance(value, Mapping):
        return map_overhead + sum(string_size(str(k)) + value_size(v, map_overhead=map_overhead) for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return sum(value_size(v, map_overhead=map_overhead) for v in value)
    if is_server_timestamp(value) or is_numeric_transform(value):
        return NUMBER_BYTES
    if is_array_transform(value):
        return sum(value_size(v, map_overhead=map_overhead) for v in value.values)
    if hasattr(value, "latitude") and hasattr(value, "longitude"):
        return GEOPOINT_BYTES
    path = getattr(value, "path", None)
    if isinstance(path, str):
        return document_name_size(path.strip("/").split("/"))
    raise TypeError(f"no Firestore size for {type(value).__name__}")


def document_size(path_segments: Iterable[str | int], data: Mapping[str, Any], *, map_overhead: int = 0) -> int:
    """Size of a stored document ("Document size"): its name size, plus the string size of
    every field name and the size of every field value, plus 32 bytes.

    ``DELETE_FIELD`` values count nothing (the field is removed). For a merge with
    transforms this is the size of the written fields only: size the stored result (the
    document after the write) to check the 1 MiB limit.

    Args:
        path_segments: collection and document IDs of the path, e.g.
            ``["users", uid, "pnlMonths", "2026-01"]``.
        data: the fields.
        map_overhead: see :func:`value_size`.

    Example:
        The docs' example, ``users/jeff/tasks/my_task_id`` with ``type``, ``done``,
        ``priority`` and ``description``, is 44 + 71 + 32 = 147 bytes.
    """
    fields_size = sum(
        string_size(str(name)) + value_size(value, map_overhead=map_overhead)
        for name, value in data.items()
        if not is_delete_field(value)
    )
    return document_name_size(path_segments) + fields_size + DOCUMENT_EXTRA_BYTES


# -- transforms ----------------------------------------------------------------------------------


def transform_count(data: Mapping[str, Any], *, predicate: Callable[[Any], bool] = is_transform) -> int:
    """Field transforms one write of ``data`` sends for its document: every value (at any
    map depth) for which ``predicate`` holds. Lists are field values, not traversed: a
    sentinel cannot sit inside an array.

    Compare with :data:`MAX_FIELD_TRANSFORMS_PER_DOCUMENT`, summed over the writes of one
    commit to the same document.
    """
    count = 0
    for value in data.values():
        if predicate(value):
            count += 1
        elif isinstance(value, Mapping):
            count += transform_count(value, predicate=predicate)
    return count


# -- index configuration (firestore.indexes.json) ----------------------------------------------


def parse_field_path(path: str) -> tuple[str, ...]:
    """Segments of a field path: dot-separated, with backtick-quoted segments (``\\``
    escapes a backtick or backslash inside them), as in ``firestore.indexes.json``.

    ``"c"`` -> ``("c",)``; ```"b.`source|paper`"``` -> ``("b", "source|paper")``; ``"*"`` ->
    ``("*",)``.
    """
    out: list[str] = []
    buf: list[str] = []
    quoted = False
    i = 0
    while i < len(path):
        ch = path[i]
        if quoted:
            if ch == "\\" and i + 1 < len(path):
                buf.append(path[i + 1])
                i += 1
            elif ch == "`":
                quoted = False
            else:
                buf.append(ch)
        elif ch == "`":
            quoted = True
        elif ch == ".":
            out.append("".join(buf))
            buf = []
        else:
            buf.append(ch)
        i += 1
    out.append("".join(buf))
    return tuple(out)


@dataclass(frozen=True)
class FieldIndexes:
    """The single-field indexes configured for one field (an override).

    Attributes:
        orders: one entry per ``"order"`` index (ASCENDING/DESCENDING, any query scope:
            a collection-scope and a collection-group-scope index are two indexes).
        array_contains: the number of ``"arrayConfig": "CONTAINS"`` indexes.
    """

    orders: int = 2
    array_contains: int = 1


#: The automatic single-field indexes: ascending and descending, collection scope, plus one
#: array-contains index ("Index overview": "Single-field indexes with collection group scope
#: are not maintained by default").
AUTOMATIC = FieldIndexes(orders=2, array_contains=1)
#: An exemption: ``"indexes": []``.
EXEMPT = FieldIndexes(orders=0, array_contains=0)


@dataclass
class IndexConfig:
    """``firestore.indexes.json`` in the form :func:`index_entries` uses.

    Attributes:
        overrides: ``(collectionGroup, field path segments) -> FieldIndexes``; the segments
            ``("*",)`` set the collection group's default.
        composites: ``collectionGroup -> [[(field path segments, is_array_contains), ...]]``,
            one list per composite index (``__name__`` left out: every document has it).
    """

    overrides: dict[tuple[str, tuple[str, ...]], FieldIndexes] = field(default_factory=dict)
    composites: dict[str, list[list[tuple[tuple[str, ...], bool]]]] = field(default_factory=dict)

    def governing(self, collection_group: str, path: tuple[str, ...]) -> FieldIndexes:
        """The indexes of a field: its own override, else its nearest ancestor's ("If you
        create a single-field index exemption for a map field, the map's subfields inherit
        these settings"), else the group's ``*`` override, else :data:`AUTOMATIC`."""
        for depth in range(len(path), 0, -1):
            found = self.overrides.get((collection_group, path[:depth]))
            if found is not None:
                return found
        return self.overrides.get((collection_group, ("*",)), AUTOMATIC)


def overrides_from_json(config: Mapping[str, Any]) -> IndexConfig:
    """An :class:`IndexConfig` from the parsed JSON of ``firestore.indexes.json``
    (``indexes`` and ``fieldOverrides``)."""
    out = IndexConfig()
    for override in config.get("fieldOverrides", []) or []:
        specs = override.get("indexes", []) or []
        orders = sum(1 for s in specs if s.get("order"))
        contains = sum(1 for s in specs if s.get("arrayConfig"))
        key = (override["collectionGroup"], parse_field_path(override["fieldPath"]))
        out.overrides[key] = FieldIndexes(orders=orders, array_contains=contains)
    for index in config.get("indexes", []) or []:
        fields_ = [
            (parse_field_path(f["fieldPath"]), bool(f.get("arrayConfig")))
            for f in index.get("fields", [])
            if f.get("fieldPath") != "__name__"
        ]
        out.composites.setdefault(index["collectionGroup"], []).append(fields_)
    return out


def load_overrides(path: str | Path) -> IndexConfig:
    """Read ``firestore.indexes.json`` (see :func:`overrides_from_json`)."""
    return overrides_from_json(json.loads(Path(path).read_text()))


# -- index entries ---------------------------------------------------------------------------


def _distinct_count(values: Iterable[Any]) -> int:
    seen: list[Any] = []
    keys: set[str] = set()
    for v in values:
        try:
            k = json.dumps(v, sort_keys=True, default=repr) + type(v).__name__
        except (TypeError, ValueError):
            k = repr(v)
        if k not in keys:
            keys.add(k)
            seen.append(v)
    return len(seen)


def _entries(collection_group: str, path: tuple[str, ...], value: Any, config: IndexConfig) -> int:
    spec = config.governing(collection_group, path)
    if is_delete_field(value):
        return 0
    if isinstance(value, Mapping):
        # the map value itself, then every subfield recursively
        own = spec.orders
        if spec == EXEMPT and not any(
            k[0] == collection_group and len(k[1]) > len(path) and k[1][: len(path)] == path for k in config.overrides
        ):
            return 0  # an exempt map with no override below it
        return own + sum(_entries(collection_group, path + (str(k),), v, config) for k, v in value.items())
    if isinstance(value, (list, tuple)):
        # the whole array (ascending, descending) and one array-contains entry per distinct element
        return spec.orders + spec.array_contains * _distinct_count(value)
    if is_array_transform(value):
        return spec.orders + spec.array_contains * _distinct_count(value.values)
    return spec.orders


def _has_path(data: Mapping[str, Any], path: tuple[str, ...]) -> Any:
    node: Any = data
    for seg in path:
        if not isinstance(node, Mapping) or seg not in node:
            return _MISSING
        node = node[seg]
    return node


_MISSING = object()


def index_entries(collection_group: str, data: Mapping[str, Any], overrides: IndexConfig | None = None) -> int:
    """Index entries of one stored document (the limit is
    :data:`MAX_INDEX_ENTRIES_PER_DOCUMENT`), by "Index overview" (Standard edition,
    "Automatic indexing"):

    - a field that is neither an array nor a map: an ascending and a descending index
      (2 entries);
    - a map: an ascending and a descending index of the whole map value (2), and every
      subfield by these same rules, recursively;
    - an array: an ascending and a descending index of the whole array (2), and an
      array-contains index, which holds one entry per distinct element (the docs define
      the index; one entry per distinct value is how array-contains entries are counted,
      and matches what the team measured of the emulator);
    - single-field indexes of collection-group scope: none by default.

    ``fieldOverrides`` replace these for a field and, by inheritance, everything under it
    ("the map's subfields inherit these settings"), unless a deeper override exists: an
    override with ``"indexes": []`` exempts it; one that lists indexes counts one entry per
    ``order`` index (either scope) and one per distinct element per ``arrayConfig`` index.

    Composite indexes (``indexes``) of the document's collection group add one entry
    each when the document has every field of the index (``__name__`` aside), times the
    distinct elements of its array-contains field if it has one. Composite entries are
    counted even for exempt fields ("A field exempted from single-field indexing can still
    be indexed as part of a composite index").

    Args:
        collection_group: the collection ID of the document (``pnlMonths``).
        data: the stored fields (transform sentinels count as the value they produce).
        overrides: from :func:`load_overrides`; None for the automatic settings only.
    """
    config = overrides or IndexConfig()
    total = sum(_entries(collection_group, (str(k),), v, config) for k, v in data.items())
    for fields_ in config.composites.get(collection_group, []):
        product = 1
        for path, contains in fields_:
            value = _has_path(data, path)
            if value is _MISSING:
                product = 0
                break
            if contains:
                product *= _distinct_count(value) if isinstance(value, (list, tuple)) else 0
        total += product
    return total
