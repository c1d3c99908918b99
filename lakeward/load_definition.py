"""Read and validate `pipeline.yaml`: one clear error naming the file, the line, the key and the problem."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import yaml
from pydantic import ValidationError

from lakeward import dag, sql
from lakeward.definition import SOURCE_KINDS, Definition, DefinitionError

DEFAULT_PATH = "pipeline.yaml"


def default_path() -> Path:
    return Path(os.environ.get("LAKEWARD_DEFINITION", DEFAULT_PATH))


def load_definition(path: Path | str | None = None) -> Definition:
    path = Path(path) if path else default_path()
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise DefinitionError(path, "<file>", "definition file not found") from None
    try:
        raw = yaml.safe_load(text)
        tree = yaml.compose(text)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        raise DefinitionError(path, "<yaml>", f"not valid YAML: {err}", mark.line + 1 if mark else None) from None
    if not isinstance(raw, dict):
        raise DefinitionError(path, "<file>", "expected a mapping at the top level")
    try:
        defn = Definition.model_validate({**raw, "path": path})
    except ValidationError as err:
        first = err.errors()[0]
        loc = [str(p) for p in first["loc"]]
        if loc[:1] == ["sources"] and len(loc) > 2 and loc[2] in SOURCE_KINDS:
            del loc[2]  # the union's tag, which pydantic adds to the path; the file has no such key
        key = ".".join(loc) or "<file>"
        more = f" (and {err.error_count() - 1} more problem(s))" if err.error_count() > 1 else ""
        raise DefinitionError(path, key, _problem(first) + more, _line_of(tree, loc)) from None
    _check_sql(defn, tree)
    dag.build(defn)
    return defn


def _problem(error: dict) -> str:
    if error["type"] == "union_tag_invalid":
        ctx = error.get("ctx", {})
        return f"unknown source kind {ctx.get('tag')!r} (expected one of: {ctx.get('expected_tags')})"
    if error["type"] == "extra_forbidden":
        return "unknown key (check the spelling)"
    return f"{error['msg']} (got {error.get('input')!r})" if "input" in error else error["msg"]


def _check_sql(defn: Definition, tree: yaml.Node | None) -> None:
    for name, mart in defn.marts.items():
        key = ["marts", name, "sql"]
        try:
            reads = sql.tables_read(sql.read(defn.root / mart.sql))
        except sql.SqlError as err:
            raise DefinitionError(defn.path, ".".join(key), str(err), _line_of(tree, key)) from None
        _check_changes(defn, name, reads, tree)
    for source, obj, spec in defn.objects():
        if spec.staging_sql:
            key = ["sources", source, "objects", obj, "staging_sql"]
            try:
                sql.read(defn.root / spec.staging_sql)
            except sql.SqlError as err:
                raise DefinitionError(defn.path, ".".join(key), str(err), _line_of(tree, key)) from None


def _check_changes(defn: Definition, name: str, reads: set[str], tree: yaml.Node | None) -> None:
    """A mart's `changes` name tables its SQL reads, and each is a SELECT over `changed` and those tables."""
    for table, text in defn.marts[name].changes.items():
        key = ["marts", name, "changes", table]
        problem = None if table in reads else f"the mart SQL does not read {table}"
        if problem is None:
            try:
                extra = sql.tables_read(sql.parse(text, f"marts.{name}.changes")) - reads - {"changed"}
                problem = f"reads {sorted(extra)[0]}, which the mart SQL does not read" if extra else None
            except sql.SqlError as err:
                problem = str(err)
        if problem:
            raise DefinitionError(defn.path, ".".join(key), problem, _line_of(tree, key))


def _line_of(node: yaml.Node | None, keys: list[str]) -> int | None:
    """The 1-based line of a key path in the YAML, as far down the path as it exists."""
    line = None
    for key in keys:
        if isinstance(node, yaml.MappingNode):
            match = next(((k, v) for k, v in node.value if k.value == key), None)
            if match is None:
                break
            line, node = match[0].start_mark.line + 1, match[1]
        elif isinstance(node, yaml.SequenceNode) and key.isdigit() and int(key) < len(node.value):
            node = node.value[int(key)]
            line = node.start_mark.line + 1
        else:
            break
    return line


def definition_hash(defn: Definition) -> str:
    """A content hash of the definition and the SQL it names, recorded with every run."""
    digest = hashlib.sha256(defn.path.read_bytes())
    files = [m.sql for m in defn.marts.values()] + [s.staging_sql for _, _, s in defn.objects() if s.staging_sql]
    for rel in sorted(files):
        digest.update((defn.root / rel).read_bytes())
    return digest.hexdigest()[:16]
