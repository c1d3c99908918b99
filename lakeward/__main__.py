"""`python -m lakeward` is the `lakeward` command."""

from lakeward.cli import app

app()
