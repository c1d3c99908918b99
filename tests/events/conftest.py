"""Fixtures for the app-event tests: an events folder, a definition holding only the events source."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from lakeward.definition import Definition
from lakeward.demo import events_world
from tests.conftest import write_definition

LINES_VIEW = "landing.events__app_events_lines"
SQL = Path(__file__).resolve().parents[2] / "sql" / "staging" / "events__app_events.sql"


@pytest.fixture
def events_root(tmp_path, monkeypatch) -> Path:
    root = tmp_path / "sources"
    root.mkdir()
    monkeypatch.setenv(events_world.ROOT_VARIABLE, str(root))
    return root


def events_definition(folder: Path, edit=None) -> Definition:
    def only_events(raw: dict) -> None:
        raw.pop("marts", None)  # marts read PostgreSQL tables this definition leaves out
        if edit:
            edit(raw)

    return write_definition(folder, only_events, sources=("events",))


@pytest.fixture
def events_defn(tmp_path) -> Definition:
    return events_definition(tmp_path)


def whole_lines(path: Path) -> list[str]:
    """Event ids of the complete lines Python's own gzip reader gets out of a cut file before it gives up."""
    ids = []
    with gzip.open(path, "rb") as fh:
        try:
            for line in fh:
                if line.endswith(b"\n"):
                    ids.append(json.loads(line)["event_id"])
        except EOFError:
            pass
    return ids
