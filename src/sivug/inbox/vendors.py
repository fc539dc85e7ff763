"""The webhook vendors Sivug serves, built from settings (the app and the worker share them)."""

from __future__ import annotations

from sivug.inbox.vendor import WebhookVendor
from sivug.platform.config import Settings


def webhook_vendors(settings: Settings) -> dict[str, WebhookVendor]:
    """Source name -> vendor. Each channel (Clerk, Mailgun, WhatsApp, Payoneer) adds its own."""
    vendors: list[WebhookVendor] = []
    return {vendor.source: vendor for vendor in vendors}
