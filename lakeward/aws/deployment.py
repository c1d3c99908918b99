"""How the definition maps onto AWS: which compute runs each object, and which objects share a schedule.

The CDK app and the state machine builders both read this, so a source or object added to the definition
gets its function, job, schedule and steps with no code change.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from graphlib import TopologicalSorter
from typing import Literal

from lakeward import dag
from lakeward.definition import Definition, ObjectSpec, SourceBase

Runtime = Literal["lambda", "glue_snapshot", "glue_compaction"]


def runtime(source: SourceBase, spec: ObjectSpec) -> Runtime:
    """Where the heavy step of an object runs. Databases are snapshotted by a Glue job off the read
    replica; event prefixes are listed by a Lambda and compacted by a Glue job (their stage step); API
    pulls and small file drops fit a Lambda."""
    kind = source.kind  # type: ignore[attr-defined]
    if kind == "postgres":
        return "glue_snapshot"
    if getattr(spec, "stage_with", None) == "compact_events":
        return "glue_compaction"
    return "lambda"


@dataclass(frozen=True)
class ObjectTask:
    """One object's steps in graph order (extract first), and what runs its extraction."""

    source: str
    object: str
    runtime: Runtime
    steps: tuple[dag.Step, ...] = ()

    @property
    def step(self) -> str:
        return f"{self.source}.{self.object}"


@dataclass(frozen=True)
class CadenceGroup:
    """The sources scheduled together: one state machine and one schedule per cadence. `levels` orders
    the objects: an object waits for the objects of earlier levels its steps depend on (a quality rule
    that references another table), and objects of one level load side by side."""

    cadence: timedelta
    sources: tuple[str, ...]
    levels: tuple[tuple[ObjectTask, ...], ...]

    @property
    def tasks(self) -> tuple[ObjectTask, ...]:
        return tuple(task for level in self.levels for task in level)

    @property
    def name(self) -> str:
        return cadence_name(self.cadence)


def cadence_name(cadence: timedelta) -> str:
    seconds = int(cadence.total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds % size == 0:
            return f"every-{seconds // size}{unit}"
    return f"every-{seconds}s"


def cadence_groups(defn: Definition) -> list[CadenceGroup]:
    graph = dag.build(defn)
    by_cadence: dict[timedelta, list[str]] = {}
    for name, source in defn.sources.items():
        by_cadence.setdefault(source.cadence, []).append(name)
    return [CadenceGroup(cadence, tuple(names), _levels(defn, dag.select(graph, set(names))))
            for cadence, names in sorted(by_cadence.items())]


def _levels(defn: Definition, graph: dict[str, dag.Step]) -> tuple[tuple[ObjectTask, ...], ...]:
    order = list(TopologicalSorter({sid: s.upstream for sid, s in graph.items()}).static_order())
    owner = {sid: (s.source, s.object) for sid, s in graph.items() if s.source}
    needs: dict[tuple, set[tuple]] = {key: set() for key in owner.values()}
    for sid, key in owner.items():
        needs[key] |= {owner[u] for u in graph[sid].upstream if u in owner and owner[u] != key}
    tasks = {
        (s, o): ObjectTask(s, o, runtime(defn.sources[s], defn.sources[s].objects[o]),
                           tuple(graph[sid] for sid in order if owner.get(sid) == (s, o)))
        for s, o in needs
    }
    levels, done = [], set()
    while len(done) < len(tasks):
        ready = [key for key in tasks if key not in done and needs[key] <= done]
        levels.append(tuple(tasks[key] for key in ready))
        done.update(ready)
    return tuple(levels)


def lambda_sources(defn: Definition) -> list[str]:
    """Sources with at least one object extracted by a Lambda: each gets its own function."""
    return [s for s, src in defn.sources.items()
            if any(runtime(src, o) != "glue_snapshot" for o in src.objects.values())]


def mart_steps(defn: Definition) -> list[dag.Step]:
    """The mart builds and their quality gates, in an order the graph allows."""
    graph = dag.build(defn)
    order = TopologicalSorter({sid: s.upstream for sid, s in graph.items()}).static_order()
    return [graph[sid] for sid in order if graph[sid].mart]


def mart_sources(defn: Definition) -> list[str]:
    """The sources whose loads the marts read, directly or through other marts."""
    steps = dag.build(defn)
    found: set[str] = set()
    pending = [s for s in steps.values() if s.kind == "mart"]
    seen: set[str] = set()
    while pending:
        step = pending.pop()
        for up in step.upstream:
            if up in seen:
                continue
            seen.add(up)
            if steps[up].source:
                found.add(steps[up].source)  # type: ignore[arg-type]
            pending.append(steps[up])
    return sorted(found)

