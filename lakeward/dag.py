"""The pipeline graph: extract -> stage for every source object, then marts in the order their SQL reads.

Mart dependencies come only from the tables each mart's SQL reads, so the graph can never drift from
the SQL. The same graph drives the local runner and the generated state machines.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from graphlib import CycleError, TopologicalSorter
from typing import Literal

from lakeward import sql
from lakeward.definition import Definition, DefinitionError, staging_table
from lakeward.quality import edges as quality_edges

StepKind = Literal["extract", "quality", "stage", "mart"]


@dataclass(frozen=True)
class Step:
    id: str
    kind: StepKind
    source: str | None = None
    object: str | None = None
    mart: str | None = None
    upstream: frozenset[str] = field(default_factory=frozenset)

    @property
    def table(self) -> str | None:
        """The Iceberg table this step publishes."""
        if self.kind in ("stage", "quality") and self.source:
            return staging_table(self.source, self.object)  # type: ignore[arg-type]
        return f"marts.{self.mart}" if self.kind in ("mart", "quality") else None


def mart_inputs(defn: Definition, mart: str) -> set[str]:
    spec = defn.marts[mart]
    return sql.tables_read(sql.read(defn.root / spec.sql))


def build(defn: Definition) -> dict[str, Step]:
    """Every step with its upstream step ids; raises DefinitionError on an undeclared table or a cycle."""
    steps: dict[str, Step] = {}
    publisher: dict[str, str] = {}
    for source, obj, _ in defn.objects():
        extract, stage = f"extract:{source}.{obj}", f"stage:{source}.{obj}"
        gate = f"quality:{staging_table(source, obj)}"  # audits the landed batch; the stage commit publishes it
        steps[extract] = Step(extract, "extract", source, obj)
        steps[gate] = Step(gate, "quality", source, obj, upstream=frozenset({extract}))
        steps[stage] = Step(stage, "stage", source, obj, upstream=frozenset({gate}))
        publisher[staging_table(source, obj)] = stage
    for mart in defn.marts:
        publisher[f"marts.{mart}"] = f"quality:marts.{mart}"
    for mart in defn.marts:
        upstream = set()
        for table in sorted(mart_inputs(defn, mart)):
            if table not in publisher:
                known = ", ".join(sorted(publisher))
                raise DefinitionError(
                    defn.path, f"marts.{mart}.sql",
                    f"{defn.marts[mart].sql} reads table '{table}', which the definition does not declare "
                    f"(declared: {known})",
                )
            upstream.add(publisher[table])
        steps[f"mart:{mart}"] = Step(f"mart:{mart}", "mart", mart=mart, upstream=frozenset(upstream))
        steps[f"quality:marts.{mart}"] = Step(
            f"quality:marts.{mart}", "quality", mart=mart, upstream=frozenset({f"mart:{mart}"}))
    quality_edges.add_parents(defn, steps, publisher)
    _check_acyclic(defn, steps)
    return steps


def _check_acyclic(defn: Definition, steps: dict[str, Step]) -> None:
    try:
        TopologicalSorter({s.id: s.upstream for s in steps.values()}).prepare()
    except CycleError as err:
        cycle = [node.removeprefix("mart:") for node in err.args[1] if not node.startswith("quality:")]
        raise DefinitionError(
            defn.path, f"marts.{cycle[0]}.sql", "marts read each other in a cycle: " + " -> ".join(cycle)
        ) from err


def select(steps: dict[str, Step], sources: set[str] | None) -> dict[str, Step]:
    """The steps of the chosen sources plus every mart downstream of them (all steps when None).

    Upstreams outside the selection are dropped: their published tables are used as they are."""
    if sources is None:
        return steps
    chosen = {sid for sid, s in steps.items() if s.source in sources}
    changed = True
    while changed:
        changed = False
        for sid, step in steps.items():
            if sid not in chosen and step.mart and step.upstream & chosen:
                chosen.add(sid)
                changed = True
    return {
        sid: Step(s.id, s.kind, s.source, s.object, s.mart, frozenset(s.upstream & chosen))
        for sid, s in steps.items() if sid in chosen
    }
