"""Stripe objects to typed Arrow columns: what the definition declares is flattened and typed, every other
top-level field keeps its JSON type (nested values as JSON text).

Fields that are null in every object of a batch are left out rather than guessed at; staging fills them
with nulls. `source_columns` still names them, so a field Stripe stopped sending can be told apart from
one that merely had no value.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pyarrow as pa

from lakeward.definition import StripeObject

VERSION_COLUMN = "version_at"
ARROW = {"string": pa.string(), "int64": pa.int64(), "float64": pa.float64(), "bool": pa.bool_(),
         "timestamp": pa.timestamp("us", tz="UTC"), "json": pa.string()}
ALWAYS = {"created": "timestamp"}  # every Stripe object has it; staging partitions by it
_json = json.JSONEncoder(sort_keys=True).encode  # one encoder: json.dumps(sort_keys=...) builds one per call


class ColumnError(ValueError):
    """A declared column whose values cannot take its declared type."""


def column_name(path: str) -> str:
    return path.replace(".", "__")


def flatten(obj: dict, spec: StripeObject, resource: str) -> dict:
    """One object as column values: declared paths typed, other top-level fields plain (nested as JSON)."""
    declared = {**ALWAYS, **spec.columns}
    row = {k: _plain(v) for k, v in obj.items() if k not in declared}
    for path, kind in declared.items():
        try:
            row[column_name(path)] = _typed(_dig(obj, path), kind)
        except (TypeError, ValueError) as err:
            raise ColumnError(f"stripe.{resource}: column '{path}' declared {kind}: {err}") from None
    return row


def to_table(rows: list[tuple[dict, int]], spec: StripeObject, resource: str) -> tuple[pa.Table, list[str]]:
    """(flattened object, version) pairs as one Arrow table, and every column the objects carry (even if
    all null)."""
    declared = {column_name(p): kind for p, kind in {**ALWAYS, **spec.columns}.items()}
    names: dict[str, None] = {}
    for row, _ in rows:
        names.update(dict.fromkeys(k for k in row if k not in declared))
    columns: dict[str, pa.Array] = {}
    for key in names:
        if (array := _inferred([row.get(key) for row, _ in rows])) is not None:
            columns[key] = array
    for name, kind in declared.items():
        try:
            columns[name] = pa.array([row[name] for row, _ in rows], ARROW[kind])
        except (TypeError, ValueError, pa.ArrowException) as err:
            raise ColumnError(f"stripe.{resource}: column '{name}' declared {kind}: {err}") from None
    columns[VERSION_COLUMN] = pa.array([datetime.fromtimestamp(v, UTC) for _, v in rows], ARROW["timestamp"])
    source_columns = [*names, *declared, VERSION_COLUMN]
    ordered = {"id": columns.pop("id")} if "id" in columns else {}
    return pa.table(ordered | columns), source_columns


def empty_table(spec: StripeObject) -> pa.Table:
    declared = [(column_name(path), ARROW[kind]) for path, kind in {**ALWAYS, **spec.columns}.items()]
    return pa.schema([("id", pa.string()), *declared, (VERSION_COLUMN, ARROW["timestamp"])]).empty_table()


def _dig(obj: dict, path: str) -> object:
    value: object = obj
    for part in path.split("."):
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    return value


def _plain(value: object) -> object:
    return _json(value) if isinstance(value, dict | list) else value


def _typed(value: object, kind: str) -> object:
    if value is None:
        return None
    if kind == "timestamp":
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError(f"expected a Unix timestamp, got {type(value).__name__} {value!r}")
        return datetime.fromtimestamp(value, UTC)
    if kind == "json":
        return _json(value)
    if kind == "string":
        return value if isinstance(value, str) else _json(value)
    expected = {"int64": (int,), "float64": (int, float), "bool": (bool,)}[kind]
    if isinstance(value, bool) != (kind == "bool") or not isinstance(value, expected):
        raise ValueError(f"Stripe sent {type(value).__name__} {value!r}")
    return value


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
