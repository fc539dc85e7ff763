"""classifications history index: (organization_id, created_at, id) in place of two single ones

History pages and the CSV export read one organization's rows newest first. With an index on
organization_id and another on created_at, PostgreSQL either walked every newer row of every
organization or sorted all of this one's; the composite index reads the page in order.

Revision ID: 3c9d51e0a7b2
Revises: f93b8aedfb18
Create Date: 2026-11-28 12:15:00+00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "3c9d51e0a7b2"
down_revision: str | None = "f93b8aedfb18"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "ix_classifications_organization_id_created_at",
        "classifications",
        ["organization_id", "created_at", "id"],
        unique=False,
    )
    op.drop_index(op.f("ix_classifications_organization_id"), table_name="classifications")
    op.drop_index(op.f("ix_classifications_created_at"), table_name="classifications")


def downgrade() -> None:
    op.create_index(
        op.f("ix_classifications_created_at"), "classifications", ["created_at"], unique=False
    )
    op.create_index(
        op.f("ix_classifications_organization_id"),
        "classifications",
        ["organization_id"],
        unique=False,
    )
    op.drop_index("ix_classifications_organization_id_created_at", table_name="classifications")
