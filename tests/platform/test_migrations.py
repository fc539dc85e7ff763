from __future__ import annotations

import pytest
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, text
from sqlalchemy.ext.asyncio import AsyncConnection

from sivug.platform import migrations


def test_models_and_migrations_agree(database_url: str) -> None:
    """`alembic check`: no model change is missing a migration."""
    migrations.check(database_url)


async def test_schema_is_at_head_with_the_job_queue(connection: AsyncConnection) -> None:
    assert (
        await connection.run_sync(lambda c: MigrationContext.configure(c).get_current_revision())
        == migrations.head_revision()
    )
    tables = await connection.run_sync(lambda c: set(inspect(c).get_table_names()))
    assert {
        "organizations",
        "users",
        "memberships",
        "customs_books",
        "tariff_lines",
        "classifications",
        "audit_log",
        "inbound_events",
        "procrastinate_jobs",
    } <= tables


@pytest.mark.parametrize(
    ("table", "column"),
    [
        ("classifications", "user_id"),
        ("classifications", "status"),
    ],
)
async def test_seed_indexes_exist(connection: AsyncConnection, table: str, column: str) -> None:
    rows = await connection.execute(
        text("SELECT indexdef FROM pg_indexes WHERE tablename = :t"), {"t": table}
    )
    assert any(f"({column})" in row[0] for row in rows), f"no index on {table}.{column}"


async def test_history_reads_an_organizations_rows_in_order_from_one_index(
    connection: AsyncConnection,
) -> None:
    """organization_id and created_at are indexed together: a history page (or a page of the
    CSV export) is read in order from the index, with no sort of the organization's rows."""
    await connection.execute(text("SET LOCAL enable_seqscan = off"))
    plan = await connection.execute(
        text(
            "EXPLAIN SELECT * FROM classifications WHERE organization_id = 'org_x' "
            "AND (created_at, id) < (now(), gen_random_uuid()) "
            "ORDER BY created_at DESC, id DESC LIMIT 51"
        )
    )
    lines = [row[0] for row in plan]
    assert any("ix_classifications_organization_id_created_at" in line for line in lines), lines
    assert not any("Sort" in line for line in lines), lines


async def test_inbox_is_unique_on_source_and_external_id(connection: AsyncConnection) -> None:
    insert = text(
        "INSERT INTO inbound_events (source, external_id, headers, body, attempts) "
        "VALUES ('t', 'e1', '{}', '', 0)"
    )
    await connection.execute(insert)
    with pytest.raises(Exception, match="uq_inbound_events_source_external_id"):
        await connection.execute(insert)
