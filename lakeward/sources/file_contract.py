"""Reading one CSV, NDJSON or Parquet file as the columns its contract declares, or failing by name.

CSV is read as text and cast column by column, so a value that does not fit names its column. Columns
the contract does not declare are dropped; a missing optional column is null; a missing required one,
or a null in it, breaks the contract.
"""

from __future__ import annotations

import gzip
import io

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.json as pajson
import pyarrow.parquet as pq

from lakeward.definition import FileColumn, FilesObject

ARROW_TYPES: dict[str, pa.DataType] = {
    "string": pa.string(), "int64": pa.int64(), "double": pa.float64(), "boolean": pa.bool_(),
    "timestamp": pa.timestamp("us", tz="UTC"), "date": pa.date32(),
}
FILE_COLUMN = "_lw_file"


class ContractError(ValueError):
    """A file whose columns break the declared contract; the batch it belongs to fails."""


def contract_schema(spec: FilesObject) -> pa.Schema:
    """The landed schema: contract types (json stays as read, text here) plus the source file column."""
    fields = [pa.field(name, ARROW_TYPES.get(col.type, pa.string()), nullable=not col.required)
              for name, col in spec.columns.items()]
    return pa.schema([*fields, pa.field(FILE_COLUMN, pa.string(), nullable=False)])


def read_file(raw: bytes, path: str, spec: FilesObject, where: str) -> pa.Table:
    """The file's rows as the contract's columns, with its path in `_lw_file`."""
    table = _read(raw, path, spec.format, where)
    columns, fields = [], []
    for name, col in spec.columns.items():
        column = _conform(table, name, col, path, where, spec.format == "csv")
        columns.append(column)
        fields.append(pa.field(name, column.type, nullable=not col.required))
    columns.append(pa.array([path] * table.num_rows, pa.string()))
    fields.append(pa.field(FILE_COLUMN, pa.string(), nullable=False))
    return pa.Table.from_arrays(columns, schema=pa.schema(fields))


def _read(raw: bytes, path: str, fmt: str, where: str) -> pa.Table:
    try:
        if fmt == "parquet":
            return pq.read_table(io.BytesIO(raw))
        data = gzip.decompress(raw) if path.endswith(".gz") else raw
        if fmt == "csv":
            names = pacsv.read_csv(io.BytesIO(data), read_options=pacsv.ReadOptions(block_size=1 << 16))
            text_types = {name: pa.string() for name in names.column_names}
            options = pacsv.ConvertOptions(column_types=text_types, strings_can_be_null=True)  # empty = null
            return pacsv.read_csv(io.BytesIO(data), convert_options=options)
        return pajson.read_json(io.BytesIO(data))
    except (pa.ArrowInvalid, OSError, EOFError) as err:
        raise ContractError(f"{where}: file {path}: cannot be read as {fmt}: {_first_line(err)}") from None


def _conform(table: pa.Table, name: str, col: FileColumn, path: str, where: str,
             text: bool) -> pa.ChunkedArray:
    if name not in table.column_names:
        if col.required:
            raise ContractError(
                f"{where}: file {path}: column '{name}': required by the contract but missing "
                f"(file has: {', '.join(table.column_names)})")
        return pa.chunked_array([pa.nulls(table.num_rows, ARROW_TYPES.get(col.type, pa.string()))])
    column = table.column(name)
    if col.type == "json":
        if not (pa.types.is_nested(column.type) or pa.types.is_string(column.type) or pa.types.is_null(column.type)):
            raise ContractError(f"{where}: file {path}: column '{name}': declared json, found {column.type}")
    else:
        column = _cast(column, ARROW_TYPES[col.type], f"{where}: file {path}: column '{name}'", text)
    if col.required and column.null_count:
        raise ContractError(f"{where}: file {path}: column '{name}': required, but {column.null_count} row(s) are null")
    return column


def _cast(column: pa.ChunkedArray, target: pa.DataType, where: str, text: bool) -> pa.ChunkedArray:
    """Text (CSV) is parsed into the declared type; typed files (Parquet, NDJSON) may only widen."""
    if column.type == target or pa.types.is_null(column.type):
        return column.cast(target)
    if not text and not _widens(column.type, target):
        raise ContractError(f"{where}: declared {target}, found {column.type}")
    source = column
    if pa.types.is_timestamp(target) and pa.types.is_string(column.type):
        source = pc.replace_substring_regex(column, r"Z$", "+00:00")
    if pa.types.is_timestamp(target) and pa.types.is_timestamp(column.type) and column.type.tz is None:
        return pc.assume_timezone(column.cast(pa.timestamp("us")), "UTC")
    try:
        return source.cast(target)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as err:
        raise ContractError(f"{where}: declared {target}, found values that are not: {_first_line(err)}") from None


def _widens(have: pa.DataType, target: pa.DataType) -> bool:
    if pa.types.is_integer(target):
        return pa.types.is_integer(have)
    if pa.types.is_floating(target):
        return pa.types.is_integer(have) or pa.types.is_floating(have)
    if pa.types.is_timestamp(target):  # JSON has no timestamp type: ISO-8601 text is the contract there
        return pa.types.is_timestamp(have) or pa.types.is_string(have)
    if pa.types.is_date(target):
        return pa.types.is_date(have) or pa.types.is_string(have)
    return pa.types.is_string(target) and pa.types.is_large_string(have)


def _first_line(err: Exception) -> str:
    return str(err).strip().splitlines()[0]
