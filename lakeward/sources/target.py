"""What one extraction reads: one object of one source, as the definition declares it."""

from __future__ import annotations

from dataclasses import dataclass

from lakeward.definition import ObjectSpec, SourceBase


@dataclass(frozen=True)
class Target:
    source_name: str
    source: SourceBase
    object_name: str
    spec: ObjectSpec
    definition_file: str

    def key(self, *parts: str) -> str:
        """The dotted definition key of this object, for error messages."""
        return ".".join(["sources", self.source_name, "objects", self.object_name, *parts])
