"""Fixtures for the GA4 tests: an export bucket folder and a definition holding only the ga4 source."""

from __future__ import annotations

from pathlib import Path

import pytest

from lakeward.definition import Definition
from lakeward.demo import ga4_world
from tests.conftest import write_definition


@pytest.fixture
def ga4_root(tmp_path, monkeypatch) -> Path:
    root = tmp_path / "ga4_bucket"
    root.mkdir()
    monkeypatch.setenv(ga4_world.ROOT_VARIABLE, str(root))
    return root


def ga4_definition(folder: Path) -> Definition:
    return write_definition(folder, lambda raw: raw.pop("marts", None), sources=("ga4",))


@pytest.fixture
def ga4_defn(tmp_path) -> Definition:
    return ga4_definition(tmp_path)
