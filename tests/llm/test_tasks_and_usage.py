"""The other LLM tasks (questions, second opinion, analysis), the usage report (service, API,
CLI) and interactive sessions with the LLM."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from tests.fakes.llm_server import FakeLLMServer, Reply
from tests.helpers import AppFactory, open_client
from tests.llm.test_classify_with_llm import answer_610910, decision

from sivug.accounts.service import create_api_key
from sivug.classification import service as classification
from sivug.classification.engines import EngineCache
from sivug.llm import assist
from sivug.llm.service import LLMService, usage_report
from sivug.models import LLMUsage
from sivug.platform.errors import ValidationFailed


async def test_a_vague_description_confirmed_vague_stays_rejected_with_what_to_ask(
    session: AsyncSession,
    engines: EngineCache,
    org: str,
    llm: LLMService,
    llm_server: FakeLLMServer,
) -> None:
    llm_server.script(
        "openai",
        Reply(data={"vague": True, "reason": "names no product", "ask": "say what the gift is"}),
    )
    row = await classification.classify(
        session,
        engines,
        organization_id=org,
        user_id=None,
        channel="api",
        description="gift",
        llm=llm,
    )
    assert row.status == "rejected_vague"
    assert row.code is None
    assert "say what the gift is" in row.result["message"]
    assert row.engine == "openai/gpt-5-mini"
    assert llm_server.calls("openai")[0].system.startswith("You check whether")


async def test_a_second_opinion_can_rescue_a_description_the_engine_found_vague(
    session: AsyncSession,
    engines: EngineCache,
    org: str,
    llm: LLMService,
    llm_server: FakeLLMServer,
) -> None:
    llm_server.script(
        "openai",
        Reply(data={"vague": False, "product": "cotton T-shirt", "reason": "a garment"}),
    )
    llm_server.responder = answer_610910
    row = await classification.classify(
        session,
        engines,
        organization_id=org,
        user_id=None,
        channel="api",
        description="gift",
        llm=llm,
    )
    tasks = [c["task"] for c in row.result["llm"]["calls"]]
    assert tasks == ["second_opinion", "classify"]
    assert (row.status, row.code) == ("classified", "610910")
    assert row.engine == "openai/gpt-5-mini"


async def test_needs_info_comes_with_questions_whose_options_are_candidate_codes(
    session: AsyncSession,
    engines: EngineCache,
    org: str,
    llm: LLMService,
    llm_server: FakeLLMServer,
) -> None:
    def needs_info(request: object) -> Reply:
        return Reply(
            data=decision(
                "6109",
                0.6,
                status="needs_info",
                question={
                    "text": "What is the T-shirt made of?",
                    "options": [
                        {"code": "6109.10", "label": "cotton"},
                        {"code": "6109.90", "label": "other textile materials"},
                    ],
                },
            )
        )

    llm_server.responder = needs_info
    interactive = await classification.start_session(
        session,
        engines,
        organization_id=org,
        user_id=None,
        channel="web",
        description="knitted T-shirt",
        llm=llm,
    )
    assert interactive.status == "open"
    [question] = interactive.last_result["questions"]
    assert [o["value"] for o in question["options"]] == ["610910", "610990"]
    assert interactive.last_result["code"] == "6109"

    llm_server.responder = lambda request: Reply(data=decision("610910"))
    answered = await classification.answer_session(
        session,
        engines,
        organization_id=org,
        session_id=interactive.id,
        answers={question["id"]: "610910"},
        llm=llm,
    )
    assert answered.status == "classified"
    assert answered.last_result["code"] == "610910"


async def test_questions_with_codes_outside_the_candidates_are_refused(
    session: AsyncSession,
    engines: EngineCache,
    org: str,
    llm: LLMService,
    llm_server: FakeLLMServer,
) -> None:
    engine = await engines.get(session, "HS2022")
    offline = engine.classify("knitted T-shirt")
    bad = {
        "questions": [
            {
                "text": "Which?",
                "options": [
                    {"code": "0101.21", "label": "horses"},
                    {"code": "6109.10", "label": "cotton"},
                ],
            }
        ]
    }
    good = {
        "questions": [
            {
                "text": "Which?",
                "options": [
                    {"code": "6109.90", "label": "other"},
                    {"code": "6109.10", "label": "cotton"},
                ],
            }
        ]
    }
    llm_server.script("openai", Reply(data=bad), Reply(data=good))
    questions, call = await assist.clarifying_questions(
        session, llm, engine, offline, "knitted T-shirt", None, organization_id=org
    )
    assert [o.value for o in questions[0].options] == ["610990", "610910"]
    assert call.attempts == 2


async def test_description_analysis_extracts_what_is_stated(
    session: AsyncSession, org: str, llm: LLMService, llm_server: FakeLLMServer
) -> None:
    llm_server.script(
        "anthropic",
        Reply(
            data={
                "product": "jacket",
                "material": "polyester",
                "composition": "100% polyester",
                "function": None,
                "intended_user": "women",
            }
        ),
    )
    llm_server.script("openai", Reply(status=401))  # a bad key: the next provider answers
    call = await assist.analyse(
        session, llm, "Ladies padded jacket, shell 100% polyester", organization_id=org
    )
    assert call.output.material == "polyester"
    assert call.output.intended_user == "women"
    assert call.provider == "anthropic"
    assert "<description>" in llm_server.calls("anthropic")[0].prompt


def test_calibration_blends_and_penalises_disagreement(llm: LLMService) -> None:
    params = llm.catalog.calibration
    agree = assist.calibrate(0.9, 0.8, True, params)
    disagree = assist.calibrate(0.9, 0.8, False, params)
    assert agree == pytest.approx(0.85)
    assert disagree < agree
    assert assist.calibrate(1.0, 1.0, True, params) <= params.ceiling
    assert assist.calibrate(0.99, 0.0, True, params) < 0.5  # an LLM alone is not enough


async def _usage_rows(session: AsyncSession, org: str) -> None:
    rows = [
        ("openai", "gpt-5-mini", "classify", 1000, 100, "0.000450", False, datetime(2026, 3, 2)),
        ("openai", "gpt-5-mini", "classify", 0, 0, "0", True, datetime(2026, 3, 5)),
        (
            "anthropic",
            "claude-haiku-4-5",
            "analyse",
            500,
            50,
            "0.000750",
            False,
            datetime(2026, 3, 31, 23),
        ),
        ("openai", "gpt-5-mini", "classify", 9000, 900, "0.9", False, datetime(2026, 4, 1)),
    ]
    for provider, model, task, i, o, cost, hit, at in rows:
        session.add(
            LLMUsage(
                organization_id=org,
                provider=provider,
                model=model,
                task=task,
                input_tokens=i,
                output_tokens=o,
                total_tokens=i + o,
                cost=Decimal(cost),
                response_time_ms=200,
                cache_hit=hit,
                outcome="cache_hit" if hit else "ok",
                created_at=at.replace(tzinfo=UTC),
            )
        )
    session.add(
        LLMUsage(
            organization_id="org_other",
            provider="openai",
            model="gpt-5-mini",
            task="classify",
            input_tokens=5,
            output_tokens=5,
            total_tokens=10,
            cost=Decimal(1),
            response_time_ms=1,
            created_at=datetime(2026, 3, 3, tzinfo=UTC),
        )
    )
    await session.flush()


async def test_the_usage_report_sums_one_organization_and_one_month(
    session: AsyncSession, org: str
) -> None:
    await _usage_rows(session, org)
    report = await usage_report(session, org, "2026-03")
    assert (report.calls, report.cache_hits, report.total_tokens, report.cost) == (
        3,
        1,
        1650,
        Decimal("0.001200"),
    )
    by_task = {(r.provider, r.task): (r.calls, r.cache_hits) for r in report.rows}
    assert by_task == {("anthropic", "analyse"): (1, 0), ("openai", "classify"): (2, 1)}
    with pytest.raises(ValidationFailed):
        await usage_report(session, org, "March")


async def test_the_usage_report_over_the_api(
    make_app: AppFactory,
    sessions: async_sessionmaker[AsyncSession],
    session: AsyncSession,
    org: str,
) -> None:
    await _usage_rows(session, org)
    _, key = await create_api_key(session, organization_id=org, name="usage", created_by=None)
    await session.commit()
    app: FastAPI = make_app()
    async for client in open_client(app, sessions):
        client.headers["Authorization"] = f"Bearer {key}"
        response = await client.get("/api/v1/usage", params={"month": "2026-03"})
        assert response.status_code == 200, response.text
        body = response.json()
        assert (body["calls"], body["cost"]) == (3, "0.001200")
        bad = await client.get("/api/v1/usage", params={"month": "03/2026"})
        assert bad.status_code == 422
        anonymous = await client.get(
            "/api/v1/usage", params={"month": "2026-03"}, headers={"Authorization": ""}
        )
        assert anonymous.status_code == 401
    assert isinstance(client, httpx.AsyncClient)
