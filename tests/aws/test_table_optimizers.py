"""The Glue table optimizers a staging table gets once it exists: the requests are valid CreateTableOptimizer
calls by botocore's own model of the Glue API (moto has no table-optimizer API), one per kind Glue offers."""

from __future__ import annotations

import botocore.session
import pytest
from botocore.exceptions import ParamValidationError
from botocore.validate import validate_parameters

from lakeward.aws.optimizers import requests

ROLE = "arn:aws:iam::123456789012:role/lakeward-dev-table-optimizer"


def _shape():
    return botocore.session.get_session().get_service_model("glue").operation_model("CreateTableOptimizer")


def test_each_optimizer_request_is_a_valid_glue_call_for_the_table():
    model = _shape()
    made = requests("staging.stripe__charges", ROLE, "123456789012")
    assert sorted(r["Type"] for r in made) == sorted(model.input_shape.members["Type"].enum)
    for request in made:
        validate_parameters(request, model.input_shape)
        assert (request["DatabaseName"], request["TableName"]) == ("staging", "stripe__charges")
        assert request["TableOptimizerConfiguration"] == {"roleArn": ROLE, "enabled": True}


def test_the_model_check_catches_a_malformed_request():
    bad = {**requests("staging.x", ROLE, "123456789012")[0], "TableOptimizerConfiguration": {"role": ROLE}}
    with pytest.raises(ParamValidationError):
        validate_parameters(bad, _shape().input_shape)
