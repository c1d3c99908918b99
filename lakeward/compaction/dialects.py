"""The compaction SQL's Trino JSON idioms, spelled so DuckDB and Spark give Trino's answers.

Trino's `try_cast(json_parse(x) AS ROW(...))` yields NULL fields for missing keys and NULL for bad JSON.
DuckDB's JSON-to-STRUCT cast is strict (a missing key fails the row), so it becomes `json_transform`,
which is lenient, behind a json_valid guard. Spark has no TRY: Glue runs with ANSI mode off, where a
failed cast is NULL as under TRY, and `get_json_object(x, '$')` is NULL exactly for bad JSON.
"""

from __future__ import annotations

import json

from sqlglot import exp


def _structure(struct: exp.DataType) -> str:
    """DuckDB json_transform's structure argument for a ROW type: {"field": "VARCHAR", ...}."""
    fields = {}
    for column in struct.expressions:
        kind = column.args["kind"]
        fields[column.name] = "JSON" if kind.this == exp.DataType.Type.JSON else kind.sql("duckdb")
    return json.dumps(fields)


def _duckdb(node: exp.Expression) -> exp.Expression:
    # Guards instead of TRY: DuckDB re-runs a whole vector row by row once TRY catches an error in it.
    if isinstance(node, exp.TryCast) and node.to.is_type("struct"):
        text = node.this.this if isinstance(node.this, exp.ParseJSON) else node.this
        transform = exp.Anonymous(this="json_transform", expressions=[text, exp.Literal.string(_structure(node.to))])
        if not isinstance(node.this, exp.ParseJSON):
            return transform  # already valid JSON: json_transform is lenient about its shape
        return exp.Case(ifs=[exp.If(this=_valid(text), true=transform)])
    if isinstance(node, exp.Try) and isinstance(node.this, exp.ParseJSON):
        return exp.Case(ifs=[exp.If(this=_valid(node.this.this), true=node.this.this)])
    if isinstance(node, exp.Try) and isinstance(node.this, exp.FromISO8601Timestamp):
        return exp.TryCast(this=node.this.this, to=exp.DataType.build("TIMESTAMPTZ", dialect="duckdb"))
    return node


def _valid(value: exp.Expression) -> exp.Expression:
    return exp.Anonymous(this="json_valid", expressions=[value.copy()])


def _spark(node: exp.Expression) -> exp.Expression:
    if isinstance(node, exp.Try) and isinstance(node.this, exp.ParseJSON):
        return exp.Anonymous(this="get_json_object", expressions=[node.this.this, exp.Literal.string("$")])
    if isinstance(node, exp.Try):
        return node.this
    if isinstance(node, exp.TryCast) and node.to.is_type("struct") and not isinstance(node.this, exp.ParseJSON):
        schema = node.to.copy().transform(_spark).sql(dialect="spark")
        return exp.Anonymous(this="from_json", expressions=[node.this, exp.Literal.string(schema)])
    if isinstance(node, exp.DataType) and node.this == exp.DataType.Type.JSON:
        return exp.DataType.build("STRING")
    return node


def to_duckdb(tree: exp.Expression) -> str:
    return tree.copy().transform(_duckdb).sql(dialect="duckdb")


def to_spark(tree: exp.Expression, views: dict[str, str] | None = None) -> str:
    """Spark SQL; `views` renames qualified inputs to the temp views that hold them (no dots in Spark)."""
    renamed = tree.copy()
    for table in renamed.find_all(exp.Table):
        qualified = f"{table.db}.{table.name}" if table.db else table.name
        if views and qualified in views:
            table.replace(exp.to_table(views[qualified]).as_(table.alias_or_name) if table.alias else
                          exp.to_table(views[qualified]))
    return renamed.transform(_spark).sql(dialect="spark")

