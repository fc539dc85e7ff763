"""A fake LLM server on 127.0.0.1 speaking the OpenAI, Anthropic and Gemini wire formats.

The real SDKs talk to it through their base URL settings. Each provider has a path prefix:

- OpenAI chat completions: ``{url}/openai/v1/chat/completions`` (also ``/xai/v1`` and
  ``/selfhosted/v1``: the same format, as xAI and self-hosted servers speak it);
- Anthropic messages: ``{url}/anthropic/v1/messages``;
- Gemini: ``{url}/gemini/v1beta/models/{model}:generateContent``.

Tests script the replies per provider (:meth:`FakeLLMServer.script`): a JSON answer, raw
text (malformed), an HTTP error with headers (429 + Retry-After, 529 overloaded, 500), or a
delay longer than the client's timeout. Unscripted requests go to the ``responder`` (by
default an HTTP 500 naming the missing script). Every request is recorded.
"""

from __future__ import annotations

import json
import threading
import time
from collections import defaultdict, deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

PROVIDERS = ("openai", "anthropic", "gemini", "xai", "selfhosted")


@dataclass
class Reply:
    data: dict[str, Any] | None = None  # the structured answer
    text: str | None = None  # raw text instead (malformed output)
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    input_tokens: int | None = None  # default: about 4 characters per token of the request
    output_tokens: int | None = None


@dataclass
class Request:
    provider: str
    path: str
    headers: dict[str, str]
    body: dict[str, Any]
    model: str
    system: str
    prompt: str


def tokens_of(text: str) -> int:
    return max(1, (len(text) + 3) // 4)


def _openai_texts(body: dict[str, Any]) -> tuple[str, str]:
    system = " ".join(m["content"] for m in body.get("messages", []) if m["role"] == "system")
    user = " ".join(m["content"] for m in body.get("messages", []) if m["role"] == "user")
    return system, user


def _anthropic_texts(body: dict[str, Any]) -> tuple[str, str]:
    system = body.get("system", "")
    if isinstance(system, list):
        system = " ".join(block.get("text", "") for block in system)
    parts = []
    for message in body.get("messages", []):
        content = message["content"]
        if isinstance(content, str):
            parts.append(content)
        else:
            parts.extend(block.get("text", "") for block in content)
    return str(system), " ".join(parts)


def _gemini_texts(body: dict[str, Any]) -> tuple[str, str]:
    instruction = body.get("systemInstruction") or body.get("system_instruction") or {}
    system = " ".join(p.get("text", "") for p in instruction.get("parts", []))
    user = " ".join(
        p.get("text", "") for content in body.get("contents", []) for p in content.get("parts", [])
    )
    return system, user


class FakeLLMServer:
    def __init__(self) -> None:
        self.requests: list[Request] = []
        self.delay_seconds = 0.0  # total of the scripted delays actually served
        self.responder: Callable[[Request], Reply] | None = None
        self._scripts: dict[str, deque[Reply]] = defaultdict(deque)
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    # ------------------------------------------------------------------ control
    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def base_url(self, provider: str) -> str:
        if provider in ("openai", "xai", "selfhosted"):
            return f"{self.url}/{provider}/v1"
        return f"{self.url}/{provider}"

    def script(self, provider: str, *replies: Reply) -> None:
        with self._lock:
            self._scripts[provider].extend(replies)

    def calls(self, provider: str | None = None) -> list[Request]:
        return [r for r in self.requests if provider is None or r.provider == provider]

    def start(self) -> FakeLLMServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._server.shutdown()
        self._server.server_close()

    def reset(self) -> None:
        with self._lock:
            self._scripts.clear()
            self.requests.clear()
            self.delay_seconds = 0.0
            self.responder = None

    # ------------------------------------------------------------------ serving
    def _next_reply(self, request: Request) -> Reply:
        with self._lock:
            self.requests.append(request)
            queue = self._scripts[request.provider]
            if queue:
                return queue.popleft()
        if self.responder is not None:
            return self.responder(request)
        return Reply(status=500, data={"message": f"nothing scripted for {request.provider}"})

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                return

            def do_POST(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
                provider = self.path.strip("/").split("/")[0]
                if provider in ("openai", "xai", "selfhosted"):
                    system, prompt = _openai_texts(body)
                    model = body.get("model", "")
                elif provider == "anthropic":
                    system, prompt = _anthropic_texts(body)
                    model = body.get("model", "")
                elif provider == "gemini":
                    system, prompt = _gemini_texts(body)
                    model = self.path.split("/models/")[-1].split(":")[0]
                else:
                    self._send(404, {"error": {"message": "unknown path"}}, {})
                    return
                request = Request(
                    provider=provider,
                    path=self.path,
                    headers={k.lower(): v for k, v in self.headers.items()},
                    body=body,
                    model=model,
                    system=system,
                    prompt=prompt,
                )
                reply = server._next_reply(request)
                if reply.delay:
                    server._stop.wait(reply.delay)
                    with server._lock:
                        server.delay_seconds += reply.delay
                if reply.status != 200:
                    self._send(reply.status, _error_body(provider, reply), reply.headers)
                    return
                text = reply.text if reply.text is not None else json.dumps(reply.data or {})
                usage = (
                    reply.input_tokens
                    if reply.input_tokens is not None
                    else tokens_of(system + prompt),
                    reply.output_tokens if reply.output_tokens is not None else tokens_of(text),
                )
                payload = _answer_body(provider, model, reply, text, usage)
                self._send(200, payload, reply.headers)

            def _send(self, status: int, payload: dict[str, Any], headers: dict[str, str]) -> None:
                data = json.dumps(payload).encode()
                try:
                    self.send_response(status)
                    self.send_header("content-type", "application/json")
                    self.send_header("content-length", str(len(data)))
                    for name, value in headers.items():
                        self.send_header(name, value)
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client timed out and went away

        return Handler


def _error_body(provider: str, reply: Reply) -> dict[str, Any]:
    message = (reply.data or {}).get("message", f"HTTP {reply.status}")
    if provider == "anthropic":
        kind = {429: "rate_limit_error", 529: "overloaded_error"}.get(reply.status, "api_error")
        return {"type": "error", "error": {"type": kind, "message": message}}
    if provider == "gemini":
        status = {429: "RESOURCE_EXHAUSTED", 503: "UNAVAILABLE"}.get(reply.status, "INTERNAL")
        return {"error": {"code": reply.status, "message": message, "status": status}}
    return {"error": {"message": message, "type": "error", "code": str(reply.status)}}


def _answer_body(
    provider: str, model: str, reply: Reply, text: str, usage: tuple[int, int]
) -> dict[str, Any]:
    inp, out = usage
    if provider == "anthropic":
        content: list[dict[str, Any]]
        if reply.text is not None:
            content = [{"type": "text", "text": text}]
        else:
            content = [
                {"type": "tool_use", "id": "toolu_fake", "name": "answer", "input": reply.data}
            ]
        return {
            "id": "msg_fake",
            "type": "message",
            "role": "assistant",
            "model": model,
            "content": content,
            "stop_reason": "tool_use" if reply.text is None else "end_turn",
            "stop_sequence": None,
            "usage": {"input_tokens": inp, "output_tokens": out},
        }
    if provider == "gemini":
        return {
            "candidates": [
                {
                    "content": {"role": "model", "parts": [{"text": text}]},
                    "finishReason": "STOP",
                    "index": 0,
                }
            ],
            "usageMetadata": {
                "promptTokenCount": inp,
                "candidatesTokenCount": out,
                "totalTokenCount": inp + out,
            },
            "modelVersion": model,
        }
    return {
        "id": "chatcmpl-fake",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": text},
                "finish_reason": "stop",
            }
        ],
        "usage": {"prompt_tokens": inp, "completion_tokens": out, "total_tokens": inp + out},
    }


@contextmanager
def running_fake_llm() -> Iterator[FakeLLMServer]:
    server = FakeLLMServer().start()
    try:
        yield server
    finally:
        server.stop()
