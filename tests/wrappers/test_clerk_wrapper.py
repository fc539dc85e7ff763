"""ClerkWrapper's backend API calls against a fake Clerk server on loopback."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from pydantic import SecretStr
from tests.fakes.clerk_server import FakeClerk, running_fake_clerk

from sivug.platform.config import ClerkSettings
from sivug.platform.errors import IntegrationError, NotFound
from sivug.wrappers.clerk import ClerkWrapper


@pytest.fixture
def fake_clerk() -> Iterator[FakeClerk]:
    with running_fake_clerk() as fake:
        yield fake


@pytest.fixture
def clerk(fake_clerk: FakeClerk) -> ClerkWrapper:
    return ClerkWrapper(
        ClerkSettings(secret_key=SecretStr("sk_test_fake_clerk_key"), api_url=fake_clerk.url)
    )


async def test_get_user_reads_the_primary_email(clerk: ClerkWrapper, fake_clerk: FakeClerk) -> None:
    fake_clerk.add_user("user_1", "noa@imports.example")
    user = await clerk.get_user("user_1")
    assert (user.email, user.first_name) == ("noa@imports.example", "Noa")
    assert fake_clerk.requests[-1][2] == "Bearer sk_test_fake_clerk_key"


async def test_transient_failures_are_retried_by_the_explicit_policy(
    clerk: ClerkWrapper, fake_clerk: FakeClerk
) -> None:
    fake_clerk.add_user("user_2", "x@y.example")
    fake_clerk.failures = [429, 503]
    user = await clerk.get_user("user_2")
    assert user.id == "user_2"
    assert len(fake_clerk.requests) == 3


async def test_missing_user_is_not_found_and_not_retried(
    clerk: ClerkWrapper, fake_clerk: FakeClerk
) -> None:
    with pytest.raises(NotFound):
        await clerk.get_user("user_missing")
    assert len(fake_clerk.requests) == 1


async def test_unconfigured_clerk_says_so() -> None:
    with pytest.raises(IntegrationError, match="CLERK_SECRET_KEY"):
        await ClerkWrapper(ClerkSettings()).get_user("user_1")
