"""Typed columns from repeated key/value records (GA4's event_params and user_properties), as the definition's
`flatten` lists them: adding a key there adds a column without touching the staging SQL.

Each record is {key, value{string_value, int_value, float_value, double_value}}. The columns are appended to
the staging SELECT, named `<column>__<key>`, written in the Athena dialect like the SQL they join.
"""

from __future__ import annotations

from collections.abc import Mapping

from sqlglot import exp

from lakeward import sql

# The value of one record `p` as each column type; GA4 puts a number where a string is expected and back.
VALUE_AS = {
    "string": "coalesce(p.value.string_value, CAST(p.value.int_value AS VARCHAR), "
              "CAST(coalesce(p.value.double_value, p.value.float_value) AS VARCHAR))",
    "int64": "coalesce(p.value.int_value, TRY_CAST(p.value.string_value AS BIGINT))",
    "double": "coalesce(p.value.double_value, p.value.float_value, CAST(p.value.int_value AS DOUBLE), "
              "TRY_CAST(p.value.string_value AS DOUBLE))",
}


def column_sql(column: str, key: str, kind: str) -> str:
    """The first record of `column` with this key, as a typed value (NULL when absent).

    `column` and `key` are definition identifiers (validated `[a-z_][a-z0-9_]*`), safe to quote as is."""
    return (f"element_at(transform(filter({column}, p -> p.key = '{key}'), p -> {VALUE_AS[kind]}), 1) "
            f"AS {column}__{key}")


def add_columns(query: exp.Expression, flatten: Mapping[str, Mapping[str, str]]) -> exp.Expression:
    """The staging SELECT with one column per flattened key appended to its outermost projection."""
    if not flatten:
        return query
    if not isinstance(query, exp.Select):
        raise sql.SqlError("a staging SQL with `flatten` keys must end in a plain SELECT (not a UNION)")
    columns = [column_sql(column, key, kind) for column, keys in flatten.items() for key, kind in keys.items()]
    return query.select(*(sql.parse(f"SELECT {c}").expressions[0] for c in columns), append=True, copy=True)
