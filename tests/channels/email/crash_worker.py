"""A real worker process (``sivug worker`` with the email vendors) for the crash test."""

from __future__ import annotations

import asyncio
import sys

from sivug.inbox.vendors import webhook_vendors
from sivug.platform.config import Settings
from sivug.platform.jobs import run_worker

if __name__ == "__main__":
    settings = Settings(_env_file=None)
    asyncio.run(run_worker(settings, sys.argv[1], webhook_vendors(settings)))
