"""api key idempotency key: the one-time token of the web form that created the key

Revision ID: f93b8aedfb18
Revises: 7a1c2e9d4b10
Create Date: 2026-11-28 04:46:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "f93b8aedfb18"
down_revision: str | None = "7a1c2e9d4b10"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("api_keys", sa.Column("idempotency_key", sa.String(length=64), nullable=True))
    op.create_unique_constraint(
        op.f("uq_api_keys_organization_id_idempotency_key"),
        "api_keys",
        ["organization_id", "idempotency_key"],
    )


def downgrade() -> None:
    op.drop_constraint(
        op.f("uq_api_keys_organization_id_idempotency_key"), "api_keys", type_="unique"
    )
    op.drop_column("api_keys", "idempotency_key")
