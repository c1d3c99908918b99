"""The context object the Lambda runtime passes a handler (the fields powertools reads)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class LambdaContext:
    function_name: str = "lakeward-test"
    memory_limit_in_mb: int = 1024
    invoked_function_arn: str = "arn:aws:lambda:eu-west-1:123456789012:function:lakeward-test"
    aws_request_id: str = "00000000-0000-0000-0000-000000000001"

    @staticmethod
    def get_remaining_time_in_millis() -> int:
        return 600_000
