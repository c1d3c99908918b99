"""Glue 5 job: compact one batch of raw app-event files into Iceberg with the shared compaction SQL.

Lines are read by the same reader as the local engine (damaged gzip and undecodable lines become rows
with a read_error), and the same SQL file runs in Spark SQL; with `--lakeward_deequ on` the loaded rows are
checked against the table's rules with Deequ before the merge. Only `main()` knows about Glue. The job
needs `--datalake-formats iceberg` and the lakeward package via `--extra-py-files`.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

from lakeward.compaction.read_lines import SCHEMA, decompress, split_lines

LINE_COLUMNS = ", ".join(f"{f.name} {'bigint' if f.name == 'line_number' else 'string'}" for f in SCHEMA)


def _lines(location: str, data: bytes, root_marker: str) -> list[tuple]:
    """The rows of one file, named by its path below the source root as the local engine names it."""
    path = location[location.index(root_marker) + len(root_marker):]
    raw, damaged = decompress(bytes(data)) if path.endswith(".gz") else (bytes(data), False)
    table = split_lines(path, raw, damaged)
    return list(zip(*(table.column(c).to_pylist() for c in table.column_names), strict=True))


def transform(spark, root: str, paths: list[str], sql_file: str | Path, view: str | None = None):
    """Every line of `paths` (relative to `root`) with its fate, as the compaction SQL decides it."""
    from lakeward import sql
    from lakeward.compaction import dialects

    spark.conf.set("spark.sql.session.timeZone", "UTC")
    spark.conf.set("spark.sql.ansi.enabled", "false")  # a failed cast is NULL, as under Trino's TRY
    tree = sql.read(Path(sql_file))
    view = view or lines_relation(tree)
    marker = root.split("://", 1)[-1].rstrip("/") + "/"
    locations = ",".join(f"{root.rstrip('/')}/{p}" for p in paths)
    rows = spark.sparkContext.binaryFiles(locations).flatMap(lambda kv: _lines(kv[0], kv[1], marker))
    spark.createDataFrame(rows, schema=LINE_COLUMNS).createOrReplaceTempView(view.replace(".", "__"))
    return spark.sql(dialects.to_spark(tree, views={view: view.replace(".", "__")}))


def lines_relation(tree) -> str:
    """The one landing relation the compaction SQL reads its raw lines from."""
    from lakeward import sql

    (relation,) = [t for t in sql.tables_read(tree) if t.startswith("landing.")]
    return relation


def write_iceberg(spark, fates, table: str, batch_id: str, run_id: str = "glue") -> dict[str, int]:
    """Merge loaded events on event_id (a replayed event changes nothing), replace the batch's quarantine,
    and append the batch's reconciliation to the audit table."""
    if not re.fullmatch(r"[a-z_][a-z0-9_]*\.[a-z_][a-z0-9_]*\.[a-z_][a-z0-9_]*", table) or not re.fullmatch(
            r"[0-9a-f]{20}", batch_id) or not re.fullmatch(r"[A-Za-z0-9_.:-]{1,80}", run_id):
        raise ValueError(f"refusing table '{table}' / batch id '{batch_id}' / run id '{run_id}'")
    from lakeward.compaction.compact import EVENT_COLUMNS  # driver only: workers need just the line reader

    fates.createOrReplaceTempView("fates")
    counts = {status: count for status, count in fates.groupBy("status").count().collect()}
    already = spark.sql(f"SELECT count(*) FROM fates f JOIN {table} t ON f.event_id = t.event_id "
                        "WHERE f.status = 'loaded'").first()[0]
    columns = ", ".join(EVENT_COLUMNS)
    spark.sql(f"""
        MERGE INTO {table} t
        USING (SELECT {columns}, file AS source_file, line_number AS source_line, '{batch_id}' AS _lw_batch_id
               FROM fates WHERE status = 'loaded') s
        ON t.event_id = s.event_id
        WHEN NOT MATCHED THEN INSERT *""")
    spark.sql(f"DELETE FROM {table}_quarantine WHERE batch_id = '{batch_id}'")
    spark.sql(f"""INSERT INTO {table}_quarantine
                  SELECT '{batch_id}', file, line_number, raw_line, error FROM fates WHERE status = 'quarantined'""")
    loaded, duplicates, quarantined = (counts.get(s, 0) for s in ("loaded", "duplicate", "quarantined"))
    catalog = table.split(".")[0]
    files = fates.select("file").distinct().count()
    spark.sql(f"""INSERT INTO {catalog}.audit.event_compaction VALUES ('{run_id}', '{batch_id}',
                  '{table.split(".", 1)[1]}', {files}, {loaded + duplicates + quarantined}, {loaded}, {duplicates},
                  {quarantined}, {loaded - already}, {already}, true)""")
    return counts


def loaded_rows(fates):
    """The events the merge would load: what the table's rules are about."""
    from lakeward.compaction.compact import EVENT_COLUMNS

    return fates.filter("status = 'loaded'").select(*EVENT_COLUMNS)


def commit_checked(spark, fates, table: str, batch_id: str, rules=None, **gate_options) -> dict[str, int]:
    """With `rules` (the job has the Deequ jar), a failed block rule raises before the merge commits anything."""
    if rules is not None:
        from lakeward.quality import glue_gate

        glue_gate.gate(spark, loaded_rows(fates), rules, **gate_options)
    return write_iceberg(spark, fates, table, batch_id)


def main() -> None:  # pragma: no cover - needs the Glue runtime
    from awsglue.context import GlueContext
    from awsglue.utils import getResolvedOptions
    from pyspark.context import SparkContext

    args = getResolvedOptions(sys.argv, ["root", "file_list", "sql_file", "table", "batch_id", "lakeward_definition",
                                         "lakeward_deequ"])
    spark = GlueContext(SparkContext.getOrCreate()).spark_session
    rules = None
    if args["lakeward_deequ"] == "on":
        import tempfile

        import boto3

        from lakeward.aws.definition_asset import fetch_definition
        from lakeward.quality.glue_gate import rules_for

        definition = fetch_definition(boto3.client("s3"), args["lakeward_definition"], Path(tempfile.mkdtemp()))
        rules = rules_for(definition, args["table"].split(".", 1)[1])
    files = json.loads(spark.sparkContext.wholeTextFiles(args["file_list"]).values().first())
    fates = transform(spark, args["root"], [f["path"] for f in files], args["sql_file"]).cache()
    print(json.dumps({"batch_id": args["batch_id"], **commit_checked(spark, fates, args["table"], args["batch_id"],
                                                                      rules)}))


if __name__ == "__main__":
    main()
