"""Bad mart declarations fail at loading with one message naming the file, the line and the key."""

from __future__ import annotations

import pytest

from lakeward.definition import DefinitionError
from tests.conftest import write_definition


def test_changes_for_a_table_the_mart_does_not_read(tmp_path):
    def edit(raw):
        changes = raw["marts"]["fct_orders"]["changes"]
        changes["staging.postgres__users"] = "SELECT CAST(created_at AS DATE) FROM changed"

    with pytest.raises(DefinitionError, match=r"pipeline\.yaml:\d+: marts\.fct_orders\.changes\."
                                              r"staging\.postgres__users: the mart SQL does not read"):
        write_definition(tmp_path, edit)


def test_changes_reading_another_table(tmp_path):
    def edit(raw):
        raw["marts"]["fct_refunds"]["changes"]["staging.postgres__orders"] = (
            "SELECT CAST(u.created_at AS DATE) FROM changed AS c JOIN staging.postgres__users AS u ON u.id = c.user_id")

    with pytest.raises(DefinitionError, match=r"marts\.fct_refunds\.changes\.staging\.postgres__orders: "
                                              r"reads staging\.postgres__users, which the mart SQL does not read"):
        write_definition(tmp_path, edit)


def test_partitions_need_a_partition_and_changes(tmp_path):
    def edit(raw):
        del raw["marts"]["fct_orders"]["changes"]

    with pytest.raises(DefinitionError, match=r"marts\.fct_orders: .*materialization 'partitions' needs a partition"):
        write_definition(tmp_path, edit)
