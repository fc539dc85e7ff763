from __future__ import annotations

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from sivug.accounts.service import DEMO_ORGANIZATION_ID, seed_demo
from sivug.books.service import BookCache, ensure_builtin_books
from sivug.classification.engines import EngineCache
from sivug.models import Organization


@pytest.fixture(scope="session")
def book_cache() -> BookCache:
    """Books are immutable once stored: one cache for the whole run."""
    return BookCache()


@pytest.fixture
def engines(book_cache: BookCache) -> EngineCache:
    """A fresh engine cache per test, so precedents never leak between tests."""
    return EngineCache(book_cache)


@pytest.fixture
async def org(session: AsyncSession) -> str:
    """The demo organization and user, with HS 2022 stored (inside the test's transaction)."""
    await ensure_builtin_books(session)
    await seed_demo(session)
    session.add(Organization(id="org_other", name="Other Trading Co"))
    await session.flush()
    return DEMO_ORGANIZATION_ID
