"""change notifications: triggers that NOTIFY sivug_changes when a cached row changes

The web processes cache API keys and book preferences (sivug.accounts.cache) and forget an
entry when PostgreSQL announces its row changed (sivug.platform.changes). NOTIFY is
transactional: the announcement goes out only when the change commits.

Revision ID: 7a1c2e9d4b10
Revises: 3f4a096cbca6
Create Date: 2026-11-28 04:45:00+00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "7a1c2e9d4b10"
down_revision: str | None = "3f4a096cbca6"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TABLES = ("api_keys", "organizations", "users")


def upgrade() -> None:
    op.execute(
        """
        CREATE FUNCTION sivug_notify_row_change() RETURNS trigger
        LANGUAGE plpgsql AS $$
        BEGIN
            PERFORM pg_notify('sivug_changes', TG_TABLE_NAME || ':' || OLD.id::text);
            RETURN NULL;
        END
        $$
        """
    )
    op.execute(
        """
        CREATE FUNCTION sivug_notify_table_change() RETURNS trigger
        LANGUAGE plpgsql AS $$
        BEGIN
            PERFORM pg_notify('sivug_changes', TG_TABLE_NAME || ':*');
            RETURN NULL;
        END
        $$
        """
    )
    # api_keys: only what decides whether a key is valid (not last_used_at, touched often).
    op.execute(
        """
        CREATE TRIGGER api_keys_notify_change
        AFTER UPDATE OF revoked_at, key_hash, organization_id OR DELETE ON api_keys
        FOR EACH ROW EXECUTE FUNCTION sivug_notify_row_change()
        """
    )
    for table in ("organizations", "users"):
        op.execute(
            f"""
            CREATE TRIGGER {table}_notify_change
            AFTER UPDATE OR DELETE ON {table}
            FOR EACH ROW EXECUTE FUNCTION sivug_notify_row_change()
            """
        )
    for table in _TABLES:
        op.execute(
            f"""
            CREATE TRIGGER {table}_notify_truncate
            AFTER TRUNCATE ON {table}
            FOR EACH STATEMENT EXECUTE FUNCTION sivug_notify_table_change()
            """
        )


def downgrade() -> None:
    for table in _TABLES:
        op.execute(f"DROP TRIGGER IF EXISTS {table}_notify_truncate ON {table}")
        op.execute(f"DROP TRIGGER IF EXISTS {table}_notify_change ON {table}")
    op.execute("DROP FUNCTION IF EXISTS sivug_notify_table_change()")
    op.execute("DROP FUNCTION IF EXISTS sivug_notify_row_change()")
