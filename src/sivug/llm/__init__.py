"""The LLM tier: providers behind one interface, used where they make the answer better.

``service.LLMService`` routes a task to the configured providers in order (circuit breaker,
spend and rate limits, PostgreSQL cache, usage records); ``assist`` holds the tasks built on
the offline engine (decide within its candidates, questions, second opinion on vague
descriptions, description analysis, calibrated confidence); ``extraction`` turns tariff PDFs
or text into a validated book.
"""
