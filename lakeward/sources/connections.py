"""Resolve a connection reference from the definition (`env:NAME`) to its value, never logging it."""

from __future__ import annotations

import os


class UnresolvedConnection(RuntimeError):
    """A connection reference that cannot be resolved; names the reference, never a secret."""


def resolve(reference: str, where: str) -> str:
    scheme, _, name = reference.partition(":")
    if scheme == "env":
        value = os.environ.get(name)
        if not value:
            raise UnresolvedConnection(f"{where}: connection '{reference}': environment variable {name} is not set")
        return value
    raise UnresolvedConnection(f"{where}: connection '{reference}': only env: references resolve outside AWS")
