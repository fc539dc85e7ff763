"""Every ORM model, imported here so Alembic's autogenerate and ``alembic check`` see them."""

from sivug.models.accounts import Membership, Organization, Role, User
from sivug.models.audit import AuditEntry
from sivug.models.base import Base
from sivug.models.books import CustomsBook, TariffLineRow
from sivug.models.classifications import Classification
from sivug.models.inbox import InboundEvent
from sivug.models.precedents import Precedent
from sivug.models.sessions import ClassificationSession

__all__ = [
    "AuditEntry",
    "Base",
    "Classification",
    "ClassificationSession",
    "CustomsBook",
    "InboundEvent",
    "Membership",
    "Organization",
    "Precedent",
    "Role",
    "TariffLineRow",
    "User",
]
