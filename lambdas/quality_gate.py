"""Lambda: the blocking quality gate of a landed batch or a built mart (lakeward.quality)."""

from lakeward.aws.handlers import step_handler

handler = step_handler("quality")
