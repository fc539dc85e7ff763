"""AnthropicWrapper: Anthropic messages, the answer forced through one tool whose input
schema is the output model (the documented way to get structured output)."""

from __future__ import annotations

import json
from typing import Any

import anthropic

from sivug.wrappers.llm_base import (
    LLMRequestError,
    LLMTransientError,
    LLMWrapper,
    RawAnswer,
    RetryPolicy,
    Sleep,
    StructuredRequest,
    Usage,
    parse_retry_after,
)
from sivug.wrappers.openai_wrapper import transient_status

TOOL_NAME = "answer"


class AnthropicWrapper(LLMWrapper):
    provider = "anthropic"

    def __init__(
        self,
        *,
        api_key: str,
        base_url: str,
        timeout: float = 30.0,
        retry: RetryPolicy | None = None,
        sleep: Sleep | None = None,
    ) -> None:
        super().__init__(timeout=timeout, retry=retry, sleep=sleep)
        self._client = anthropic.AsyncAnthropic(
            api_key=api_key, base_url=base_url, timeout=timeout, max_retries=0
        )

    async def close(self) -> None:
        await self._client.close()

    async def _call(self, model: str, request: StructuredRequest) -> RawAnswer:
        try:
            params: dict[str, Any] = {
                "model": model,
                "max_tokens": request.max_output_tokens,
                "system": request.system,
                "messages": [{"role": "user", "content": request.prompt}],
                "tools": [
                    {
                        "name": TOOL_NAME,
                        "description": f"Give the answer as a {request.schema_name} object.",
                        "input_schema": request.schema,
                    }
                ],
                "tool_choice": {"type": "tool", "name": TOOL_NAME},
            }
            response = await self._client.messages.create(**params)
        except anthropic.APITimeoutError:
            raise LLMTransientError("anthropic: timed out", provider=self.provider) from None
        except anthropic.APIConnectionError:
            raise LLMTransientError(
                "anthropic: connection failed", provider=self.provider
            ) from None
        except anthropic.APIStatusError as exc:
            status = exc.status_code
            if transient_status(status):  # 529 overloaded is >= 500
                raise LLMTransientError(
                    f"anthropic: HTTP {status}",
                    provider=self.provider,
                    status=status,
                    retry_after=parse_retry_after(exc.response.headers.get("retry-after")),
                ) from None
            raise LLMRequestError(
                f"anthropic: HTTP {status}", provider=self.provider, status=status
            ) from None
        text = ""
        for block in response.content:
            if block.type == "tool_use" and block.name == TOOL_NAME:
                text = json.dumps(block.input)
                break
            if block.type == "text" and not text:
                text = block.text
        return RawAnswer(
            text=text,
            usage=Usage(response.usage.input_tokens, response.usage.output_tokens),
        )
