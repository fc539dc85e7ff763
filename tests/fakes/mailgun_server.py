"""A fake Mailgun on 127.0.0.1 speaking the send, events and validation contract.

- ``POST /v3/{domain}/messages`` (multipart or url-encoded, Basic ``api:<key>``): records the
  message (fields, ``h:`` headers, attachments) and an ``accepted`` event; the id is the
  ``h:Message-Id`` when given (as Mailgun does), else generated. Answers
  ``{"id": "<...>", "message": "Queued. Thank you."}``.
- ``GET /v3/{domain}/events`` filtered by ``message-id``, ``event``, ``recipient``.
- ``GET /v4/address/validate?address=``.
- Scripting: :meth:`FakeMailgun.script` queues responses (429 with Retry-After, 5xx, a dropped
  connection) for the next requests; :meth:`FakeMailgun.hold_sends` makes a send be recorded
  and then wait before answering (so a test can kill the caller in between).
"""

from __future__ import annotations

import base64
import email.policy
import itertools
import json
import threading
import time
import uuid
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.parser import BytesParser
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, parse_qsl, urlparse


@dataclass
class SentMessage:
    id: str
    domain: str
    fields: dict[str, list[str]]
    files: list[tuple[str, str, bytes]]  # (field, filename, content)
    received_at: float

    def first(self, name: str) -> str:
        values = self.fields.get(name, [])
        return values[0] if values else ""

    @property
    def to(self) -> list[str]:
        return self.fields.get("to", [])

    @property
    def subject(self) -> str:
        return self.first("subject")

    @property
    def text(self) -> str:
        return self.first("text")

    @property
    def html(self) -> str:
        return self.first("html")

    def header(self, name: str) -> str:
        return self.first(f"h:{name}")


@dataclass
class Scripted:
    status: int  # 0: drop the connection without answering
    body: dict[str, Any] = field(default_factory=dict)
    retry_after: str | None = None
    path_prefix: str = ""  # only requests whose path starts with this


def _parse_form(body: bytes, content_type: str) -> tuple[dict[str, list[str]], list[Any]]:
    fields: dict[str, list[str]] = {}
    files: list[tuple[str, str, bytes]] = []
    if content_type.startswith("multipart/"):
        head = f"Content-Type: {content_type}\r\nMIME-Version: 1.0\r\n\r\n".encode()
        message = BytesParser(policy=email.policy.HTTP).parsebytes(head + body)
        assert isinstance(message, EmailMessage)
        for part in message.iter_parts():
            name = str(part.get_param("name", header="content-disposition"))
            payload = part.get_payload(decode=True)
            data = payload if isinstance(payload, bytes) else b""
            filename = part.get_filename()
            if filename is not None:
                files.append((name, filename, data))
            else:
                fields.setdefault(name, []).append(
                    data.decode(part.get_content_charset() or "utf-8")
                )
    else:
        for name, value in parse_qsl(body.decode(), keep_blank_values=True):
            fields.setdefault(name, []).append(value)
    return fields, files


class FakeMailgun:
    def __init__(self, api_key: str = "key-test-0123456789abcdef") -> None:
        self.api_key = api_key
        self.sent: list[SentMessage] = []
        self.events: list[dict[str, Any]] = []
        self.requests: list[tuple[str, str]] = []
        self._script: list[Scripted] = []
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self._hold: threading.Event | None = None
        self.send_received = threading.Event()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> FakeMailgun:
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._hold is not None:
            self._hold.set()
        self._server.shutdown()
        self._server.server_close()

    def script(self, *responses: Scripted) -> None:
        with self._lock:
            self._script.extend(responses)

    def hold_sends(self) -> threading.Event:
        """Sends are recorded, then wait for the returned event before answering."""
        self._hold = threading.Event()
        return self._hold

    def messages_to(self, address: str) -> list[SentMessage]:
        with self._lock:
            return [m for m in self.sent if address in m.to]

    def _next_scripted(self, path: str) -> Scripted | None:
        with self._lock:
            for index, item in enumerate(self._script):
                if path.startswith(item.path_prefix):
                    return self._script.pop(index)
        return None

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                return None

            def _reply(
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

            def _authorized(self) -> bool:
                expected = base64.b64encode(f"api:{fake.api_key}".encode()).decode()
                if self.headers.get("Authorization") != f"Basic {expected}":
                    self._reply(401, {"message": "Invalid private key"})
                    return False
                return True

            def _scripted(self, path: str) -> bool:
                item = fake._next_scripted(path)
                if item is None:
                    return False
                if item.status == 0:
                    self.close_connection = True
                    self.connection.close()
                    return True
                headers = {"Retry-After": item.retry_after} if item.retry_after else {}
                self._reply(item.status, item.body or {"message": "scripted"}, headers)
                return True

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                path = urlparse(self.path).path
                fake.requests.append(("POST", path))
                if not self._authorized() or self._scripted(path):
                    return
                parts = path.strip("/").split("/")
                if len(parts) != 3 or parts[0] != "v3" or parts[2] != "messages":
                    self._reply(404, {"message": "not found"})
                    return
                fields, files = _parse_form(body, self.headers.get("Content-Type", ""))
                if not fields.get("to") or not fields.get("from"):
                    self._reply(400, {"message": "'to' and 'from' are required"})
                    return
                custom = (fields.get("h:Message-Id") or [""])[0].strip("<>")
                message_id = custom or f"{int(time.time())}.{next(fake._ids)}@{parts[1]}"
                message = SentMessage(message_id, parts[1], fields, files, time.time())
                with fake._lock:
                    fake.sent.append(message)
                    for recipient in fields["to"]:
                        fake.events.append(
                            {
                                "event": "accepted",
                                "id": uuid.uuid4().hex,
                                "timestamp": time.time(),
                                "recipient": recipient,
                                "message": {"headers": {"message-id": message_id}},
                                "user-variables": {
                                    k[2:]: v[0] for k, v in fields.items() if k.startswith("v:")
                                },
                            }
                        )
                fake.send_received.set()
                if fake._hold is not None:
                    fake._hold.wait(timeout=120)
                self._reply(200, {"id": f"<{message_id}>", "message": "Queued. Thank you."})

            def do_GET(self) -> None:
                parsed = urlparse(self.path)
                fake.requests.append(("GET", parsed.path))
                if not self._authorized() or self._scripted(parsed.path):
                    return
                query = {k: v[0] for k, v in parse_qs(parsed.query).items()}
                if parsed.path.endswith("/events"):
                    wanted = query.get("message-id")
                    with fake._lock:
                        items = [
                            e
                            for e in fake.events
                            if (not wanted or e["message"]["headers"]["message-id"] == wanted)
                            and (not query.get("event") or e["event"] == query["event"])
                            and (not query.get("recipient") or e["recipient"] == query["recipient"])
                        ]
                    self._reply(200, {"items": items, "paging": {}})
                    return
                if parsed.path == "/v4/address/validate":
                    address = query.get("address", "")
                    local, _, domain = address.partition("@")
                    ok = bool(local) and "." in domain and not domain.endswith(".invalid")
                    self._reply(
                        200,
                        {
                            "address": address,
                            "is_disposable_address": False,
                            "is_role_address": local in ("info", "admin"),
                            "reason": [] if ok else ["no_mx"],
                            "result": "deliverable" if ok else "undeliverable",
                            "risk": "low" if ok else "high",
                        },
                    )
                    return
                self._reply(404, {"message": "not found"})

        return Handler
