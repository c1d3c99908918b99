"""Lambda: turn a state machine's input (mode, start, end) into the windows it loads."""

from lakeward.aws.handlers import plan_handler

handler = plan_handler()
