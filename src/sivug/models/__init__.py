"""Every ORM model, imported here so Alembic's autogenerate and ``alembic check`` see them."""

from sivug.models.accounts import ApiKey, Invitation, Membership, Organization, Role, User
from sivug.models.audit import AuditEntry
from sivug.models.base import Base
from sivug.models.books import CustomsBook, TariffLineRow
from sivug.models.classifications import Classification
from sivug.models.email import (
    EmailDeliveryEvent,
    EmailMessage,
    EmailRateLimit,
    EmailSuppression,
    EmailTemplate,
    EmailWebhookToken,
    InboundEmail,
)
from sivug.models.inbox import InboundEvent
from sivug.models.lists import ClassificationList, RateLimitCounter
from sivug.models.llm import ExtractionJob, LLMCacheEntry, LLMOrganizationLimit, LLMUsage
from sivug.models.precedents import Precedent
from sivug.models.sessions import ClassificationSession

__all__ = [
    "ApiKey",
    "AuditEntry",
    "Base",
    "Classification",
    "ClassificationList",
    "ClassificationSession",
    "CustomsBook",
    "EmailDeliveryEvent",
    "EmailMessage",
    "EmailRateLimit",
    "EmailSuppression",
    "EmailTemplate",
    "EmailWebhookToken",
    "ExtractionJob",
    "InboundEmail",
    "InboundEvent",
    "Invitation",
    "LLMCacheEntry",
    "LLMOrganizationLimit",
    "LLMUsage",
    "Membership",
    "Organization",
    "Precedent",
    "RateLimitCounter",
    "Role",
    "TariffLineRow",
    "User",
]
