"""Where the local lakehouse lives: everything sits under LAKEWARD_HOME (default ./.lakeward)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Home:
    root: Path

    @classmethod
    def from_env(cls) -> Home:
        return cls(Path(os.environ.get("LAKEWARD_HOME", ".lakeward")).resolve())

    @property
    def landing(self) -> Path:
        return self.root / "landing"

    @property
    def warehouse(self) -> Path:
        return self.root / "warehouse"

    @property
    def catalog_db(self) -> Path:
        return self.root / "catalog.db"

    @property
    def postgres_data(self) -> Path:
        return self.root / "postgres"

    def ensure(self) -> Home:
        for path in (self.root, self.landing, self.warehouse):
            path.mkdir(parents=True, exist_ok=True)
        return self
