"""The webhook vendors Sivug serves, built from settings (the app and the worker share them)."""

from __future__ import annotations

from sivug.accounts.webhooks import ClerkWebhooks
from sivug.channels.email.vendors import mailgun_vendors
from sivug.inbox.vendor import WebhookVendor
from sivug.platform.config import Settings, is_real_secret


def webhook_vendors(settings: Settings) -> dict[str, WebhookVendor]:
    """Source name -> vendor. Each channel (Clerk, Mailgun, WhatsApp, Payoneer) adds its own."""
    vendors: list[WebhookVendor] = []
    clerk_secret = settings.clerk.webhook_secret
    if clerk_secret is not None and is_real_secret(clerk_secret):
        vendors.append(ClerkWebhooks(clerk_secret.get_secret_value()))
    vendors.extend(mailgun_vendors(settings))
    return {vendor.source: vendor for vendor in vendors}
