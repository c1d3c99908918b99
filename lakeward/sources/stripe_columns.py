"""Stripe objects to typed Arrow columns: what the definition declares is flattened and typed, every other
top-level field keeps its JSON type (nested values as JSON text).

Work is done a page at a time and column by column (`page_columns`, in the thread that fetched the page),
so the end of a window only gathers plain values into Arrow arrays. Fields that are null in every object
of a batch are left out rather than guessed at; staging fills them with nulls. `source_columns` still names
them, so a field Stripe stopped sending can be told apart from one that merely had no value. Every row also
carries the soft-delete columns staging shares with Salesforce: `is_deleted` and `deleted_at`.
"""

from __future__ import annotations

import json
from itertools import chain, repeat
from operator import itemgetter

import pyarrow as pa

from lakeward.definition import StripeObject

VERSION_COLUMN = "version_at"
DELETE_COLUMNS = ("is_deleted", "deleted_at")
ARROW = {"string": pa.string(), "int64": pa.int64(), "float64": pa.float64(), "bool": pa.bool_(),
         "timestamp": pa.timestamp("us", tz="UTC"), "json": pa.string()}
ALWAYS = {"created": "timestamp"}  # every Stripe object has it; staging partitions by it
_json = json.JSONEncoder(sort_keys=True).encode  # one encoder: json.dumps(sort_keys=...) builds one per call
_KEYS = "\0keys"  # a page's entry holding each object's field names, in the order Stripe sent them
_ARRAYS = "\0arrays"  # a page's entry holding its columns as Arrow arrays (None: all null)
_MIXED = object()  # a page column Arrow cannot hold as one plain scalar type
_ALLOWED = {"timestamp": {int}, "int64": {int}, "float64": {int, float}, "bool": {bool}}
_NONE = type(None)


class ColumnError(ValueError):
    """A declared column whose values cannot take its declared type."""


def column_name(path: str) -> str:
    return path.replace(".", "__")


def page_columns(objs: list[dict], spec: StripeObject, resource: str) -> dict[str, list]:
    """A page of objects as columns: declared paths typed (timestamps as Unix seconds), other top-level
    fields as sent (nested values as JSON text)."""
    declared = {**ALWAYS, **spec.columns}
    names: dict[str, None] = {}
    for obj in objs:
        names.update(obj)
    columns: dict[str, list] = {_KEYS: [tuple(obj) for obj in objs]}
    for key in names:
        if key not in declared:
            values = [obj.get(key) for obj in objs]
            kinds = set(map(type, values))
            columns[key] = [_plain(v) for v in values] if dict in kinds or list in kinds else values
    for path, kind in declared.items():
        parts = path.split(".")
        values = [obj.get(path) for obj in objs] if len(parts) == 1 else [_dig(obj, parts) for obj in objs]
        columns[column_name(path)] = _typed_column(values, kind, path, resource)
    # Arrow arrays now, in the fetching thread while the pacer has it wait anyway: a window's end then only
    # concatenates them. Python values stay for the rare field whose type differs between pages.
    typed = {column_name(path) for path in declared}
    arrays = {key: _page_array(values) for key, values in columns.items() if key != _KEYS and key not in typed}
    for path, kind in declared.items():
        arrays[column_name(path)] = _declared_array(columns[column_name(path)], kind, column_name(path), resource)
    columns[_ARRAYS] = arrays  # type: ignore[assignment]
    return columns


def to_table(rows: list[tuple[dict[str, list], int, int, int | None]], spec: StripeObject,
             resource: str) -> tuple[pa.Table, list[str]]:
    """(page columns, index in page, version, deleted at) of each row as one Arrow table, and every column
    the objects carry (even if all null)."""
    declared = {column_name(p): kind for p, kind in {**ALWAYS, **spec.columns}.items()}
    names: dict[str, None] = {}
    seen: set[tuple] = set()
    for page, i, _, _ in rows:
        if (keys := page[_KEYS][i]) not in seen:
            seen.add(keys)
            names.update(dict.fromkeys(k for k in keys if k not in declared))
    # Gather each column across pages: the pages' Arrow arrays taken in row order, or, for a field whose
    # type differs between pages, its Python values (C-level chain/itemgetter), inferred as a whole.
    pages = list({id(page): page for page, _, _, _ in rows}.values())
    offsets, at = {}, 0
    for page in pages:
        offsets[id(page)], at = at, at + len(page[_KEYS])
    positions = [offsets[id(page)] + i for page, i, _, _ in rows]
    pick, taken = itemgetter(*positions), pa.array(positions, pa.int64())

    def gathered(key: str) -> list:
        values = pick(list(chain.from_iterable(page.get(key) or repeat(None, len(page[_KEYS])) for page in pages)))
        return list(values) if len(rows) > 1 else [values]

    def concatenated(key: str, kind: pa.DataType | None = None) -> pa.Array | None:
        parts = [page[_ARRAYS].get(key) for page in pages]
        if kind is None:
            if any(part is _MIXED for part in parts):
                return _inferred(gathered(key))
            kinds = {part.type for part in parts if part is not None}
            if not kinds:
                return None
            kind = pa.float64() if kinds == {pa.int64(), pa.float64()} else next(iter(kinds))
            if len(kinds) > 1 and kind != pa.float64():
                return _inferred(gathered(key))
        chunks = [pa.nulls(len(page[_KEYS]), kind) if part is None else part.cast(kind)
                  for page, part in zip(pages, parts, strict=True)]
        array = pa.concat_arrays(chunks).take(taken)  # one array first: take over 100 chunks is slower
        return None if array.null_count == len(array) and key not in declared else array

    columns: dict[str, pa.Array] = {}
    for key in names:
        if (array := concatenated(key)) is not None:
            columns[key] = array
    for name, kind in declared.items():
        columns[name] = concatenated(name, ARROW[kind])
    columns[VERSION_COLUMN] = _seconds([version for _, _, version, _ in rows])
    columns["is_deleted"] = pa.array([deleted is not None for *_, deleted in rows], pa.bool_())
    columns["deleted_at"] = _seconds([deleted for *_, deleted in rows])
    source_columns = [*names, *declared, VERSION_COLUMN, *DELETE_COLUMNS]
    ordered = {"id": columns.pop("id")} if "id" in columns else {}
    return pa.table(ordered | columns), source_columns


def empty_table(spec: StripeObject) -> pa.Table:
    declared = [(column_name(path), ARROW[kind]) for path, kind in {**ALWAYS, **spec.columns}.items()]
    return pa.schema([("id", pa.string()), *declared, (VERSION_COLUMN, ARROW["timestamp"]),
                      ("is_deleted", pa.bool_()), ("deleted_at", ARROW["timestamp"])]).empty_table()


def _seconds(values: list[int | None]) -> pa.Array:
    """Unix seconds as microsecond UTC timestamps, computed in Arrow rather than per value."""
    micros = pa.array([None if v is None else v * 1_000_000 for v in values], pa.int64())
    return micros.cast(ARROW["timestamp"])


def _dig(obj: dict, parts: list[str]) -> object:
    value: object = obj
    for part in parts:
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    return value


def _plain(value: object) -> object:
    return _json(value) if isinstance(value, dict | list) else value


def _typed_column(values: list, kind: str, path: str, resource: str) -> list:
    """The values checked (by the set of their types, not one by one) and converted to `kind`."""
    kinds = set(map(type, values)) - {_NONE}
    if kind == "json":
        return [None if v is None else _json(v) for v in values]
    if kind == "string":
        return values if kinds <= {str} else [v if v is None or isinstance(v, str) else _json(v) for v in values]
    if not kinds <= _ALLOWED[kind]:
        for value in values:  # find the first offender, for the message
            try:
                _check(value, kind)
            except (TypeError, ValueError) as err:
                raise ColumnError(f"stripe.{resource}: column '{path}' declared {kind}: {err}") from None
    return values


def _check(value: object, kind: str) -> None:
    if value is None:
        return
    if kind == "timestamp":
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError(f"expected a Unix timestamp, got {type(value).__name__} {value!r}")
        return
    expected = {"int64": (int,), "float64": (int, float), "bool": (bool,)}[kind]
    if isinstance(value, bool) != (kind == "bool") or not isinstance(value, expected):
        raise ValueError(f"Stripe sent {type(value).__name__} {value!r}")


def _page_array(values: list) -> pa.Array | None | object:
    try:
        array = pa.array(values)
    except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError):
        return _MIXED
    if pa.types.is_null(array.type):
        return None
    return array if array.type in (pa.bool_(), pa.int64(), pa.float64(), pa.string()) else _MIXED


def _declared_array(values: list, kind: str, name: str, resource: str) -> pa.Array:
    try:
        return _seconds(values) if kind == "timestamp" else pa.array(values, ARROW[kind])
    except (TypeError, ValueError, OverflowError, pa.ArrowException) as err:
        raise ColumnError(f"stripe.{resource}: column '{name}' declared {kind}: {err}") from None


def _inferred(values: list[object]) -> pa.Array | None:
    """JSON scalar types as Arrow types; a field mixing types is kept as JSON text. None when all null."""
    try:
        array = pa.array(values)  # Arrow's own inference, in C: bool, int64, double (ints with floats), string
    except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError):
        return pa.array([None if v is None else _json(v) for v in values], pa.string())
    if pa.types.is_null(array.type):
        return None
    if array.type in (pa.bool_(), pa.int64(), pa.float64(), pa.string()):
        return array
    return pa.array([None if v is None else _json(v) for v in values], pa.string())
