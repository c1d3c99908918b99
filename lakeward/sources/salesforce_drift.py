"""Field drift of a Salesforce object between runs, from describe() and the fields the last batch landed.

Added fields land as new columns (staging evolves additively) and are reported. Removed fields keep
landing as null columns of their old type, so staging keeps its contract, and are warned about once.
A field whose type maps to a different column type refuses the batch, naming object, field and types.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path

from lakeward.lake.landing import MANIFEST
from lakeward.sources.salesforce_types import Field

log = logging.getLogger(__name__)


class FieldTypeChanged(RuntimeError):
    """A field changed to a type its staging column cannot hold; the batch is refused."""


@dataclass
class Drift:
    fields: list[Field]  # what to land: describe()'s fields, then the removed ones as null columns
    added: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)  # removed since the last batch

    def stats(self) -> dict:
        """What the manifest records: every landed field, the removed ones apart, and this run's drift."""
        out: dict = {"fields": {f.api_name: f.spec for f in self.fields if not f.removed},
                     "removed_fields": {f.api_name: f.spec for f in self.fields if f.removed}}
        changes = {k: v for k, v in {"added": self.added, "removed": self.removed}.items() if v}
        return out | ({"drift": changes} if changes else {})


def last_landed(object_folder: Path, own_batch: Path) -> dict | None:
    """The stats of the most recently extracted batch of this object, other than the one being written."""
    latest: dict | None = None
    for path in object_folder.glob(f"*/{MANIFEST}"):
        if path.parent == own_batch:
            continue
        manifest = json.loads(path.read_text())
        if "fields" in manifest.get("stats", {}) and (latest is None or manifest["extracted_at"] > latest["at"]):
            latest = {"at": manifest["extracted_at"], **manifest["stats"]}
    return latest


def reconcile(sobject: str, described: list[Field], previous: dict | None) -> Drift:
    if previous is None:
        return Drift(described)
    before = {name: Field.parse(name, spec) for name, spec in previous["fields"].items()}
    gone = {name: Field.parse(name, spec) for name, spec in previous.get("removed_fields", {}).items()}
    for now in described:
        was = before.get(now.api_name) or gone.get(now.api_name)
        if was is not None and was.arrow != now.arrow:
            raise FieldTypeChanged(f"Salesforce {sobject}.{now.api_name} changed type from {was.spec} to "
                                   f"{now.spec} (column {was.arrow} to {now.arrow}); the batch is refused")
    names = {f.api_name for f in described}
    removed = sorted(set(before) - names)
    for name in removed:
        log.warning("Salesforce %s.%s was removed; its staging column stays and is null from now on", sobject, name)
    ghosts = [Field(f.api_name, f.type, f.precision, f.scale, removed=True)
              for name, f in sorted((before | gone).items()) if name not in names]
    return Drift(described + ghosts, sorted(names - set(before) - set(gone)), removed)
