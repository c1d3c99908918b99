"""The synthesized stack, built once per test session (and once across xdist workers, under a lock)."""

from __future__ import annotations

import fcntl
import json
import os
from pathlib import Path

import pytest

from tests.conftest import REPO

os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")


def synthesize(definition: Path, out: Path, env: str = "dev") -> dict:
    """Synthesize the app for a definition into `out`; returns the template. cdk-nag findings that are not
    acknowledged make the synthesis raise."""
    from cdk.app import build_app

    app, stack = build_app(definition, env=env, outdir=str(out / "cdk.out"), build_dir=out / "build")
    app.synth()
    return json.loads((out / "cdk.out" / f"{stack.stack_name}.template.json").read_text())


def synthesized_once(tmp_path_factory, name: str, make) -> tuple[Path, dict]:
    root = tmp_path_factory.getbasetemp()
    root = root.parent if os.environ.get("PYTEST_XDIST_WORKER") else root
    folder = root / name
    with open(root / f"{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        done = folder / "template.json"
        if not done.exists():
            folder.mkdir(exist_ok=True)
            template = make(folder)
            done.write_text(json.dumps(template))
    return folder, json.loads(done.read_text())


@pytest.fixture(scope="session")
def stack(tmp_path_factory) -> tuple[Path, dict]:
    """(output folder, template) of the repository's pipeline.yaml, dev settings."""
    return synthesized_once(tmp_path_factory, "lakeward-synth", lambda f: synthesize(REPO / "pipeline.yaml", f))


@pytest.fixture(scope="session")
def template(stack) -> dict:
    return stack[1]
