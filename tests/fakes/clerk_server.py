"""A fake Clerk backend API on 127.0.0.1 speaking the wire format the official SDK expects."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class FakeClerk:
    users: dict[str, dict[str, Any]] = field(default_factory=dict)
    organizations: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: Status codes to answer before serving normally, e.g. [429, 500].
    failures: list[int] = field(default_factory=list)
    requests: list[tuple[str, str, str]] = field(default_factory=list)  # method, path, auth
    url: str = ""

    def add_user(self, user_id: str, email: str, first: str = "Noa", last: str = "Levi") -> None:
        self.users[user_id] = {
            "id": user_id,
            "object": "user",
            "first_name": first,
            "last_name": last,
            "primary_email_address_id": "idn_1",
            "email_addresses": [
                {
                    "id": "idn_1",
                    "object": "email_address",
                    "email_address": email,
                    "verification": None,
                    "linked_to": [],
                    "reserved": False,
                    "created_at": 1,
                    "updated_at": 1,
                }
            ],
            "phone_numbers": [],
            "web3_wallets": [],
            "external_accounts": [],
            "saml_accounts": [],
            "public_metadata": {},
            "private_metadata": {},
            "unsafe_metadata": {},
            "password_enabled": False,
            "two_factor_enabled": False,
            "totp_enabled": False,
            "backup_code_enabled": False,
            "banned": False,
            "locked": False,
            "created_at": 1,
            "updated_at": 1,
            "last_sign_in_at": None,
            "profile_image_url": "",
            "image_url": "",
            "has_image": False,
            "external_id": None,
            "primary_phone_number_id": None,
            "primary_web3_wallet_id": None,
            "username": None,
            "passkeys": [],
            "mfa_enabled_at": None,
            "mfa_disabled_at": None,
            "enterprise_accounts": [],
            "lockout_expires_in_seconds": None,
            "verification_attempts_remaining": None,
            "delete_self_enabled": True,
            "create_organization_enabled": True,
            "last_active_at": None,
            "legal_accepted_at": None,
        }


def _handler(fake: FakeClerk) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            return

        def _send(
            self, status: int, body: dict[str, Any], headers: dict[str, str] | None = None
        ) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            fake.requests.append(("GET", self.path, self.headers.get("Authorization", "")))
            if fake.failures:
                status = fake.failures.pop(0)
                error = {"errors": [{"message": "try later", "long_message": "", "code": "x"}]}
                self._send(status, error, {"Retry-After": "0"} if status == 429 else None)
                return
            parts = self.path.strip("/").split("/")
            store = {"users": fake.users, "organizations": fake.organizations}
            if len(parts) == 3 and parts[0] == "v1" and parts[1] in store:
                item = store[parts[1]].get(parts[2])
                if item is not None:
                    self._send(200, item)
                    return
            not_found = {
                "errors": [
                    {"message": "not found", "long_message": "", "code": "resource_not_found"}
                ]
            }
            self._send(404, not_found)

    return Handler


@contextmanager
def running_fake_clerk() -> Iterator[FakeClerk]:
    fake = FakeClerk()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(fake))
    fake.url = f"http://127.0.0.1:{server.server_address[1]}/v1"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()
