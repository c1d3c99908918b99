"""The quality gate function the state machines call after every stage and after the marts."""

from __future__ import annotations

from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from cdk.functions import FunctionFactory


class Quality(Construct):
    def __init__(self, scope: Construct, cid: str, *, functions: FunctionFactory):
        super().__init__(scope, cid)
        self.function: lambda_.Function = functions.make(
            self, "quality", "quality_gate", "Blocking quality gate: the declared rules (lakeward.quality), as locally")
