"""XAIWrapper: xAI (Grok) through its OpenAI-compatible endpoint and the OpenAI SDK."""

from __future__ import annotations

from sivug.wrappers.openai_wrapper import OpenAIWrapper


class XAIWrapper(OpenAIWrapper):
    provider = "xai"
