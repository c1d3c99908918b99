"""Lambda: extract one window of one files object into S3 landing (Step Functions task input)."""

from lakeward.aws.handlers import extract_handler

handler = extract_handler("files")
