"""OpenAIWrapper: OpenAI chat completions with a JSON-schema response format.

The same wrapper serves any OpenAI-compatible server (xAI, a self-hosted model) by base URL:
see :class:`OpenAICompatibleWrapper` and ``xai_wrapper.XAIWrapper``.
"""

from __future__ import annotations

from typing import Any, Literal

import openai

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

ResponseFormat = Literal["json_schema", "json_object"]

#: Status codes worth retrying besides 5xx.
_TRANSIENT_STATUS = frozenset({408, 409, 429})


def transient_status(status: int) -> bool:
    return status in _TRANSIENT_STATUS or status >= 500


class OpenAIWrapper(LLMWrapper):
    provider = "openai"

    def __init__(
        self,
        *,
        api_key: str,
        base_url: str,
        timeout: float = 30.0,
        retry: RetryPolicy | None = None,
        sleep: Sleep | None = None,
        response_format: ResponseFormat = "json_schema",
        provider: str | None = None,
    ) -> None:
        super().__init__(timeout=timeout, retry=retry, sleep=sleep)
        if provider:
            self.provider = provider
        self.response_format = response_format
        self._client = openai.AsyncOpenAI(
            api_key=api_key, base_url=base_url, timeout=timeout, max_retries=0
        )

    async def close(self) -> None:
        await self._client.close()

    def _format(self, request: StructuredRequest) -> dict[str, Any]:
        if self.response_format == "json_object":
            return {"type": "json_object"}
        return {
            "type": "json_schema",
            "json_schema": {"name": request.schema_name, "schema": request.schema, "strict": False},
        }

    async def _call(self, model: str, request: StructuredRequest) -> RawAnswer:
        try:
            params: dict[str, Any] = {
                "model": model,
                "messages": [
                    {"role": "system", "content": request.system},
                    {"role": "user", "content": request.prompt},
                ],
                "response_format": self._format(request),
                "max_tokens": request.max_output_tokens,
                "temperature": request.temperature,
            }
            response = await self._client.chat.completions.create(**params)
        except openai.APITimeoutError:
            raise LLMTransientError(f"{self.provider}: timed out", provider=self.provider) from None
        except openai.APIConnectionError:
            raise LLMTransientError(
                f"{self.provider}: connection failed", provider=self.provider
            ) from None
        except openai.APIStatusError as exc:
            status = exc.status_code
            if transient_status(status):
                raise LLMTransientError(
                    f"{self.provider}: HTTP {status}",
                    provider=self.provider,
                    status=status,
                    retry_after=parse_retry_after(exc.response.headers.get("retry-after")),
                ) from None
            raise LLMRequestError(
                f"{self.provider}: HTTP {status}", provider=self.provider, status=status
            ) from None
        usage = response.usage
        text = ""
        if response.choices:
            text = response.choices[0].message.content or ""
        return RawAnswer(
            text=text,
            usage=Usage(
                input_tokens=usage.prompt_tokens if usage else 0,
                output_tokens=usage.completion_tokens if usage else 0,
            ),
        )


class OpenAICompatibleWrapper(OpenAIWrapper):
    """A self-hosted model behind an OpenAI-compatible API (vLLM, llama.cpp, Ollama, ...)."""

    provider = "selfhosted"
