"""Lambda: merge one landed batch into its staging Iceberg table in the Glue Data Catalog."""

from lakeward.aws.handlers import step_handler

handler = step_handler("stage")
