"""GoogleGeminiWrapper: Gemini ``generateContent`` with a JSON response schema."""

from __future__ import annotations

import httpx
import httpx2
from google import genai
from google.genai import errors, types

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


class GoogleGeminiWrapper(LLMWrapper):
    provider = "gemini"

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
        # The SDK does not retry unless told to (HttpRetryOptions): one policy, ours.
        self._client = genai.Client(
            api_key=api_key,
            http_options=types.HttpOptions(base_url=base_url, timeout=round(timeout * 1000)),
        )

    async def close(self) -> None:
        await self._client.aio.aclose()

    async def _call(self, model: str, request: StructuredRequest) -> RawAnswer:
        config = types.GenerateContentConfig(
            system_instruction=request.system,
            response_mime_type="application/json",
            response_json_schema=request.schema,
            max_output_tokens=request.max_output_tokens,
            temperature=request.temperature,
        )
        try:
            response = await self._client.aio.models.generate_content(
                model=model, contents=request.prompt, config=config
            )
        except errors.APIError as exc:
            status = int(exc.code or 0)
            if status == 0 or transient_status(status):
                headers = getattr(exc.response, "headers", None)
                retry_after = headers.get("retry-after") if headers is not None else None
                raise LLMTransientError(
                    f"gemini: HTTP {status}",
                    provider=self.provider,
                    status=status,
                    retry_after=parse_retry_after(retry_after),
                ) from None
            raise LLMRequestError(
                f"gemini: HTTP {status}", provider=self.provider, status=status
            ) from None
        except (httpx.TimeoutException, httpx2.TimeoutException, TimeoutError):
            raise LLMTransientError("gemini: timed out", provider=self.provider) from None
        except (httpx.TransportError, httpx2.TransportError, OSError):
            raise LLMTransientError("gemini: connection failed", provider=self.provider) from None
        meta = response.usage_metadata
        text = ""
        try:
            text = response.text or ""
        except ValueError:
            text = ""
        return RawAnswer(
            text=text,
            usage=Usage(
                input_tokens=(meta.prompt_token_count or 0) if meta else 0,
                output_tokens=(meta.candidates_token_count or 0) if meta else 0,
            ),
        )
