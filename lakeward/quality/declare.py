"""Read `quality/<namespace>.<table>.yaml` next to the definition: one clear error naming file, line and key."""

from __future__ import annotations

import threading
from pathlib import Path

import yaml
from pydantic import ValidationError

from lakeward.definition import Definition, DefinitionError
from lakeward.quality.rules import RULE_KINDS, RuleFile, TableRules, defaults, merge_rules, table_defaults

FOLDER = "quality"
_cache: dict[tuple, dict[str, TableRules]] = {}
_lock = threading.Lock()


def rules_folder(defn: Definition) -> Path:
    return defn.root / FOLDER


def load_rules(defn: Definition) -> dict[str, TableRules]:
    """Every published table's rules: the defaults plus what its file declares (read again when a file changes)."""
    folder = rules_folder(defn)
    files = tuple((p.name, p.stat().st_mtime_ns) for p in sorted(folder.glob("*.yaml"))) if folder.is_dir() else ()
    key = (str(defn.path.resolve()), defn.path.stat().st_mtime_ns if defn.path.exists() else 0, files)
    with _lock:
        if key not in _cache:
            _cache[key] = _load(defn)
        return _cache[key]


def _load(defn: Definition) -> dict[str, TableRules]:
    known = table_defaults(defn)
    declared = {table: [] for table in known}
    folder = rules_folder(defn)
    for path in sorted(folder.glob("*.yaml")) if folder.is_dir() else []:
        table = path.name.removesuffix(".yaml")
        if table not in known:
            raise DefinitionError(path, "<file>", f"rules for '{table}', which the definition does not publish "
                                  f"(name the file <table>.yaml, one of: {', '.join(sorted(known))})")
        declared[table] = _read(path, known).rules
    out = {}
    for table, base in known.items():
        out[table] = TableRules(table=table, rules=merge_rules(defaults(**base), declared[table]),
                                cursor=base["cursor"])
    return out


def _read(path: Path, known: dict) -> RuleFile:
    from lakeward.load_definition import _line_of  # the definition's own line finder, one implementation

    text = path.read_text()
    try:
        raw, tree = yaml.safe_load(text) or {}, yaml.compose(text)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        raise DefinitionError(path, "<yaml>", f"not valid YAML: {err}", mark.line + 1 if mark else None) from None
    try:
        parsed = RuleFile.model_validate(raw)
    except ValidationError as err:
        first = err.errors()[0]
        loc = [str(p) for p in first["loc"]]
        if len(loc) > 2 and loc[0] == "rules" and loc[2] in RULE_KINDS:
            del loc[2]  # the union's tag, which pydantic adds to the path
        raise DefinitionError(path, ".".join(loc) or "<file>", _problem(first), _line_of(tree, loc)) from None
    for n, rule in enumerate(parsed.rules):
        if rule.kind == "references" and rule.table not in known:
            raise DefinitionError(path, f"rules.{n}.table", f"'{rule.table}' is not a table the definition "
                                  f"publishes", _line_of(tree, ["rules", str(n), "table"]))
    names = [r.rule_name for r in parsed.rules]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise DefinitionError(path, "rules", f"two rules are named '{dupes[0]}'; give one a distinct `name`",
                              _line_of(tree, ["rules"]))
    return parsed


def _problem(error: dict) -> str:
    if error["type"] == "union_tag_invalid":
        return f"unknown rule kind {error.get('ctx', {}).get('tag')!r} (expected one of: {', '.join(RULE_KINDS)})"
    if error["type"] == "union_tag_not_found":
        return f"a rule needs a `kind` (one of: {', '.join(RULE_KINDS)})"
    if error["type"] == "extra_forbidden":
        return "unknown key (check the spelling)"
    msg = error["msg"].removeprefix("Value error, ")
    return f"{msg} (got {error.get('input')!r})" if "input" in error and not isinstance(
        error["input"], dict) else msg
