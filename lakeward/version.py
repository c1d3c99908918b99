"""The code version recorded with every batch and run: the git commit when there is one."""

from __future__ import annotations

import functools
import subprocess
from pathlib import Path

from lakeward import __version__


@functools.cache
def code_version() -> str:
    repo = Path(__file__).resolve().parent.parent
    try:
        out = subprocess.run(
            ["git", "-C", str(repo), "describe", "--always", "--dirty", "--abbrev=12"],
            capture_output=True, text=True, timeout=5, check=True,
        )
        return f"{__version__}+{out.stdout.strip()}"
    except (OSError, subprocess.SubprocessError):
        return __version__
