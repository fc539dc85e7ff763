from __future__ import annotations

import uuid

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from sivug.accounts.service import DEMO_USER_ID
from sivug.books.service import BookNotFound
from sivug.classification import service
from sivug.classification.engines import EngineCache
from sivug.models import Organization, User
from sivug.platform.errors import ValidationFailed


async def test_classify_records_the_result_for_the_organization(
    session: AsyncSession, engines: EngineCache, org: str
) -> None:
    row = await service.classify(
        session,
        engines,
        organization_id=org,
        user_id=DEMO_USER_ID,
        channel="api",
        description="  Men's 100% cotton crew-neck T-shirt  ",
    )
    assert (row.status, row.code, row.book_id) == ("classified", "610910", "HS2022")
    assert row.input == "Men's 100% cotton crew-neck T-shirt"
    assert row.engine.startswith("sivug-offline/")
    assert row.result["rationale"]
    again = await service.get_classification(session, org, row.id)
    assert again.id == row.id
    with pytest.raises(service.ClassificationNotFound):
        await service.get_classification(session, "org_other", row.id)


async def test_vague_descriptions_are_recorded_as_rejected(
    session: AsyncSession, engines: EngineCache, org: str
) -> None:
    row = await service.classify(
        session, engines, organization_id=org, user_id=None, channel="api", description="gift"
    )
    assert row.status == "rejected_vague"
    assert row.code is None
    assert "gift" in row.result["message"]


async def test_empty_or_huge_descriptions_are_refused(
    session: AsyncSession, engines: EngineCache, org: str
) -> None:
    with pytest.raises(ValidationFailed, match="description"):
        await service.classify(
            session, engines, organization_id=org, user_id=None, channel="api", description=" "
        )
    with pytest.raises(ValidationFailed, match="at most"):
        await service.classify(
            session,
            engines,
            organization_id=org,
            user_id=None,
            channel="api",
            description="x" * 5000,
        )


async def test_book_preference_user_then_organization_then_system(
    session: AsyncSession, org: str
) -> None:
    resolve = service.resolve_book_id
    assert await resolve(session, requested=None, user_id=None, organization_id=None) == "HS2022"
    organization = await session.get(Organization, org)
    user = await session.get(User, DEMO_USER_ID)
    assert organization is not None
    assert user is not None
    organization.default_book = "EU-CN-2026"
    assert await resolve(session, requested=None, user_id=DEMO_USER_ID, organization_id=org) == (
        "EU-CN-2026"
    )
    user.preferred_book = "US-HTS-2026"
    assert await resolve(session, requested=None, user_id=DEMO_USER_ID, organization_id=org) == (
        "US-HTS-2026"
    )
    assert await resolve(
        session, requested="HS2022", user_id=DEMO_USER_ID, organization_id=org
    ) == ("HS2022")


async def test_unknown_book_is_a_404(session: AsyncSession, engines: EngineCache, org: str) -> None:
    with pytest.raises(BookNotFound, match="XX-9999"):
        await service.classify(
            session,
            engines,
            organization_id=org,
            user_id=None,
            channel="api",
            description="cotton t-shirt",
            book_id="XX-9999",
        )


async def test_interactive_session_asks_then_narrows_then_ends_classified(
    session: AsyncSession, engines: EngineCache, org: str
) -> None:
    opened = await service.start_session(
        session,
        engines,
        organization_id=org,
        user_id=DEMO_USER_ID,
        channel="web",
        description="t-shirt",
    )
    assert opened.status == "open"
    questions = opened.last_result["questions"]
    assert questions, "an ambiguous item must come with questions"
    question = questions[0]
    cotton = next(o for o in question["options"] if "cotton" in o["label"].lower())

    resumed = await service.get_session(session, org, opened.id)  # saved and resumed
    answered = await service.answer_session(
        session,
        engines,
        organization_id=org,
        session_id=resumed.id,
        answers={question["id"]: cotton["value"]},
    )
    assert answered.status == "classified"
    assert answered.last_result["code"] == "610910"
    with pytest.raises(service.SessionClosed):
        await service.answer_session(
            session, engines, organization_id=org, session_id=opened.id, answers={"x": "y"}
        )
    with pytest.raises(service.SessionNotFound):
        await service.get_session(session, "org_other", opened.id)
    with pytest.raises(service.SessionNotFound):
        await service.get_session(session, org, uuid.uuid4())


async def test_a_vague_session_ends_rejected(
    session: AsyncSession, engines: EngineCache, org: str
) -> None:
    opened = await service.start_session(
        session,
        engines,
        organization_id=org,
        user_id=None,
        channel="api",
        description="personal effects",
    )
    assert opened.status == "rejected"


async def test_a_confirmed_classification_guides_that_organization_only(
    session: AsyncSession, engines: EngineCache, org: str
) -> None:
    description = "Zephyr Aurora 3000 kit"  # a product name the nomenclature cannot know
    first = await service.classify(
        session,
        engines,
        organization_id=org,
        user_id=DEMO_USER_ID,
        channel="api",
        description=description,
    )
    assert first.code is None or not first.code.startswith("9503")
    await service.confirm(
        session,
        engines,
        organization_id=org,
        user_id=DEMO_USER_ID,
        classification_id=first.id,
        code="950300",
    )
    again = await service.classify(
        session,
        engines,
        organization_id=org,
        user_id=DEMO_USER_ID,
        channel="api",
        description="Zephyr Aurora 3000 kit, blue",
    )
    assert again.code is not None
    assert again.code.startswith("9503")
    other = await service.classify(
        session,
        engines,
        organization_id="org_other",
        user_id=None,
        channel="api",
        description="Zephyr Aurora 3000 kit, blue",
    )
    assert other.code is None or not other.code.startswith("9503")
