"""What a crashed run leaves behind is removed before the next run touches anything.

Landing folders without a manifest were never committed; data files under an Iceberg table that no
snapshot references were written by a commit that never happened. Neither was ever visible to a reader,
and the run lock guarantees no live writer owns them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse

from pyiceberg.catalog import Catalog

from lakeward.home import Home
from lakeward.lake import landing
from lakeward.lake.catalog import all_tables


@dataclass
class Cleaned:
    landing_folders: list[Path] = field(default_factory=list)
    orphan_files: list[Path] = field(default_factory=list)


def _local(uri: str) -> Path:
    return Path(urlparse(uri).path) if uri.startswith("file:") else Path(uri)


def orphan_data_files(catalog: Catalog) -> list[Path]:
    """Parquet files under each table's data folder that no snapshot (tagged ones included) references."""
    orphans = []
    for identifier in all_tables(catalog):
        table = catalog.load_table(identifier)
        folder = _local(table.location()) / "data"
        if not folder.exists():
            continue
        referenced = set()
        # Walked by hand: inspect.all_files() cannot build its Arrow stats for uuid columns.
        for snapshot in table.metadata.snapshots:
            for manifest in snapshot.manifests(table.io):
                referenced |= {str(_local(e.data_file.file_path))
                               for e in manifest.fetch_manifest_entry(table.io, discard_deleted=False)}
        orphans += [p for p in folder.rglob("*.parquet") if str(p) not in referenced]
    return orphans


def clean(home: Home, catalog: Catalog, *, orphans: bool = True) -> Cleaned:
    """Always the uncommitted landing folders; the Iceberg orphans (a scan of every manifest) on request."""
    out = Cleaned(landing.clean_uncommitted(home.landing))
    for path in orphan_data_files(catalog) if orphans else []:
        path.unlink(missing_ok=True)
        out.orphan_files.append(path)
    return out
