"""Graph edges the rules imply: a gate checking references waits until the parent table is published."""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

from lakeward.quality.declare import load_rules

if TYPE_CHECKING:
    from lakeward.dag import Step
    from lakeward.definition import Definition


def add_parents(defn: Definition, steps: dict[str, Step], publisher: dict[str, str]) -> None:
    rules = load_rules(defn)
    for sid, step in list(steps.items()):
        if step.kind != "quality":
            continue
        parents = {publisher[r.table] for r in rules[step.table].rules if r.kind == "references"}
        if parents - {sid}:
            steps[sid] = dataclasses.replace(step, upstream=step.upstream | (parents - {sid}))
