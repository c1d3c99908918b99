"""Adding an object to the definition adds its resources and its steps, with no code change."""

from __future__ import annotations

import json

import pytest
import yaml

from tests.aws.conftest import synthesize, synthesized_once
from tests.conftest import REPO

NEW = ("postgres", "coupons")


@pytest.fixture(scope="session")
def grown(tmp_path_factory) -> dict:
    """The repository's definition plus one PostgreSQL table, synthesized."""
    def make(folder):
        raw = yaml.safe_load((REPO / "pipeline.yaml").read_text())
        raw["sources"][NEW[0]]["objects"][NEW[1]] = {"primary_key": ["id"], "cursor": "updated_at",
                                                     "retention": {"landing": "400d"}}
        for mart in raw["marts"].values():
            mart["sql"] = str(REPO / mart["sql"])
        for src in raw["sources"].values():
            for spec in src["objects"].values():
                if spec.get("staging_sql"):
                    spec["staging_sql"] = str(REPO / spec["staging_sql"])
        (folder / "definition").mkdir()
        (folder / "definition" / "quality").symlink_to(REPO / "quality")
        path = folder / "definition" / "pipeline.yaml"
        path.write_text(yaml.safe_dump(raw, sort_keys=False))
        return synthesize(path, folder)
    return synthesized_once(tmp_path_factory, "lakeward-synth-grown", make)[1]


def _landing_rules(template: dict) -> dict[str, int]:
    for resource in template["Resources"].values():
        if resource["Type"] == "AWS::S3::Bucket" and "landing" in json.dumps(resource["Properties"]["BucketName"]):
            return {r["Prefix"]: r.get("ExpirationInDays") for r in
                    resource["Properties"]["LifecycleConfiguration"]["Rules"] if "Prefix" in r}
    raise AssertionError("no landing bucket")


def _states(template: dict) -> dict[str, set[str]]:
    """Every state name of every machine (nested ones included), by machine name."""
    out = {}
    for resource in template["Resources"].values():
        if resource["Type"] == "AWS::StepFunctions::StateMachine":
            names: set[str] = set()
            _collect(json.loads(resource["Properties"]["DefinitionString"]), names)
            out[resource["Properties"]["StateMachineName"]] = names
    return out


def _collect(node: dict, names: set[str]) -> None:
    for name, state in node.get("States", {}).items():
        names.add(name)
        for branch in state.get("Branches", []):
            _collect(branch, names)
        if "ItemProcessor" in state:
            _collect(state["ItemProcessor"], names)


def test_a_new_object_gets_its_lifecycle_rule_and_its_steps(template, grown):
    before, after = _landing_rules(template), _landing_rules(grown)
    assert {k: v for k, v in after.items() if k not in before} == {f"{NEW[0]}/{NEW[1]}/": 400}
    old, new = _states(template), _states(grown)
    assert old.keys() == new.keys()
    added = {machine: new[machine] - old[machine] for machine in new if new[machine] - old[machine]}
    step = f"{NEW[0]}.{NEW[1]}"
    assert added == {"lakeward-dev-load-every-1h": {
        f"extract:{step}", f"quality:{step}", f"stage:{step}", f"{step}: record failure",
        f"{step}: describe failure", f"{step}: failed"}}
    assert all(old[m] <= new[m] for m in old)  # nothing else changed shape
