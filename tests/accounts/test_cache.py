"""The per-process cache of API keys and book preferences stays true to the database: another
process's committed change reaches it through PostgreSQL's notifications, and without a live
notification feed it is not used at all."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from datetime import timedelta

import pytest
from sqlalchemy import event, text, update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from sivug.accounts import repository
from sivug.accounts.cache import AccountsCache
from sivug.accounts.service import authenticate_api_key, create_api_key, hash_key
from sivug.books.service import ensure_builtin_books
from sivug.classification.service import resolve_book_id
from sivug.models import ApiKey, Organization, User
from sivug.platform.changes import ChangeFeed
from sivug.platform.db import session_factory, session_scope

ORG = "org_cache"


@pytest.fixture
async def feed(database_url: str) -> AsyncIterator[ChangeFeed]:
    changes = ChangeFeed(database_url)
    yield changes
    await changes.stop()


@pytest.fixture
async def demo_key(committed_db: AsyncEngine) -> str:
    async with session_scope(session_factory(committed_db)) as session:
        await ensure_builtin_books(session)
        session.add(Organization(id=ORG, name="Cache Ltd", default_book="HS2022"))
        session.add(User(id="user_cache", preferred_book=None))
        await session.flush()
        _, key = await create_api_key(session, organization_id=ORG, name="k", created_by=None)
    return key


async def changed_elsewhere(
    feed: ChangeFeed, engine: AsyncEngine, table: str, statement: str
) -> None:
    """Commit ``statement`` on another connection, as another web process would, and wait
    until the feed has delivered the announcement of ``table`` (to the cache, subscribed
    before this)."""
    delivered = asyncio.Event()
    feed.subscribe(table, lambda _ident: delivered.set())
    async with engine.begin() as conn:
        await conn.execute(text(statement))
    await asyncio.wait_for(delivered.wait(), 5)


@contextmanager
def statements_run(engine: AsyncEngine) -> Iterator[list[str]]:
    """The SQL statements ``engine`` sends while the block runs."""
    statements: list[str] = []

    def count(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        statements.append(statement)

    event.listen(engine.sync_engine, "before_cursor_execute", count)
    try:
        yield statements
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", count)


async def revoke_unannounced(engine: AsyncEngine) -> None:
    """Revoke every key with the triggers off: a change no notification tells of."""
    async with engine.begin() as conn:
        await conn.execute(text("ALTER TABLE api_keys DISABLE TRIGGER USER"))
        await conn.execute(update(ApiKey).values(revoked_at=text("now()")))
        await conn.execute(text("ALTER TABLE api_keys ENABLE TRIGGER USER"))


async def test_a_key_revoked_elsewhere_stops_working_on_the_announcement(
    committed_db: AsyncEngine, demo_key: str, feed: ChangeFeed
) -> None:
    cache = AccountsCache(feed)
    await feed.start()
    assert feed.live
    sessions = session_factory(committed_db)
    async with sessions() as session:
        identity = await cache.api_key(session, hash_key(demo_key))
    assert identity is not None
    assert identity.organization_id == ORG
    await changed_elsewhere(
        feed, committed_db, "api_keys", "UPDATE api_keys SET revoked_at = now()"
    )
    async with sessions() as session:
        assert await cache.api_key(session, hash_key(demo_key)) is None


async def test_cached_answers_do_not_touch_the_database_until_a_change(
    committed_db: AsyncEngine, demo_key: str, feed: ChangeFeed
) -> None:
    cache = AccountsCache(feed)
    await feed.start()
    sessions = session_factory(committed_db)
    async with sessions() as session:
        assert await cache.organization_default_book(session, ORG) == "HS2022"
    # A change the triggers do not announce (not a real path: it shows the cache answers).
    async with committed_db.begin() as conn:
        await conn.execute(text("ALTER TABLE organizations DISABLE TRIGGER USER"))
        await conn.execute(text(f"UPDATE organizations SET default_book = 'X' WHERE id = '{ORG}'"))
        await conn.execute(text("ALTER TABLE organizations ENABLE TRIGGER USER"))
    async with sessions() as session:
        assert await cache.organization_default_book(session, ORG) == "HS2022"
    await changed_elsewhere(
        feed,
        committed_db,
        "organizations",
        f"UPDATE organizations SET name = 'Renamed' WHERE id = '{ORG}'",
    )
    async with sessions() as session:
        assert await cache.organization_default_book(session, ORG) == "X"


async def test_deleting_the_organization_invalidates_its_keys(
    committed_db: AsyncEngine, demo_key: str, feed: ChangeFeed
) -> None:
    cache = AccountsCache(feed)
    await feed.start()
    sessions = session_factory(committed_db)
    async with sessions() as session:
        assert await cache.api_key(session, hash_key(demo_key)) is not None
    await changed_elsewhere(
        feed,
        committed_db,
        "organizations",
        f"UPDATE organizations SET deleted_at = now() WHERE id = '{ORG}'",
    )
    async with sessions() as session:
        assert await cache.api_key(session, hash_key(demo_key)) is None


async def test_user_preference_changed_elsewhere_is_used_next(
    committed_db: AsyncEngine, demo_key: str, feed: ChangeFeed
) -> None:
    cache = AccountsCache(feed)
    await feed.start()
    sessions = session_factory(committed_db)

    async def book() -> str:
        async with sessions() as session:
            return await resolve_book_id(
                session, requested=None, user_id="user_cache", organization_id=ORG, cache=cache
            )

    assert await book() == "HS2022"  # the organization's default
    await changed_elsewhere(
        feed,
        committed_db,
        "users",
        "UPDATE users SET preferred_book = 'EU-CN' WHERE id = 'user_cache'",
    )
    assert await book() == "EU-CN"


async def test_without_a_live_feed_every_lookup_reads_the_database(
    committed_db: AsyncEngine, demo_key: str, feed: ChangeFeed
) -> None:
    cache = AccountsCache(feed)  # never started: not live
    assert not cache.usable
    sessions = session_factory(committed_db)
    async with sessions() as session:
        assert await cache.api_key(session, hash_key(demo_key)) is not None
    await revoke_unannounced(committed_db)  # only a fresh read can see it
    async with sessions() as session:
        assert await cache.api_key(session, hash_key(demo_key)) is None


async def test_after_a_lost_connection_the_cache_starts_afresh(
    committed_db: AsyncEngine, demo_key: str, feed: ChangeFeed
) -> None:
    """Changes made while the feed was not listening are never announced: the cache forgets
    everything when the connection drops and again when it listens anew."""
    cache = AccountsCache(feed)
    transitions: list[bool] = []
    back = asyncio.Event()

    def watch(ident: str) -> None:
        if ident == "*":
            transitions.append(feed.live)
            if feed.live and False in transitions:
                back.set()

    feed.subscribe("api_keys", watch)
    await feed.start()
    sessions = session_factory(committed_db)
    async with sessions() as session:
        assert await cache.api_key(session, hash_key(demo_key)) is not None
    await revoke_unannounced(committed_db)
    async with sessions() as session:  # still cached: nothing was announced
        assert await cache.api_key(session, hash_key(demo_key)) is not None
    async with committed_db.begin() as conn:
        await conn.execute(
            text(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE application_name = 'sivug-change-feed' AND datname = current_database()"
            )
        )
    await asyncio.wait_for(back.wait(), 10)
    assert cache.usable
    async with sessions() as session:
        assert await cache.api_key(session, hash_key(demo_key)) is None


async def test_this_process_forgets_its_own_change_before_it_commits(
    session: AsyncSession, feed: ChangeFeed
) -> None:
    """Inside one uncommitted transaction (no announcement yet), the flush is enough."""
    cache = AccountsCache(feed)
    await feed.start()
    session.add(Organization(id="org_flush", name="F", default_book="HS2022"))
    await session.flush()
    assert await cache.organization_default_book(session, "org_flush") == "HS2022"
    organization = await session.get(Organization, "org_flush")
    assert organization is not None
    organization.default_book = "EU-CN"
    await session.flush()
    assert await cache.organization_default_book(session, "org_flush") == "EU-CN"


async def test_recording_a_key_use_never_waits_on_another_transaction(
    committed_db: AsyncEngine, demo_key: str
) -> None:
    # Another request (another process) is writing the key's row and has not committed:
    # this request must not wait for it with a pooled connection checked out.
    async with committed_db.connect() as other:
        await other.execute(update(ApiKey).values(last_used_at=None))  # row locked, uncommitted
        async with session_scope(session_factory(committed_db)) as session:
            identity = await asyncio.wait_for(
                authenticate_api_key(session, demo_key, AccountsCache(None)), timeout=5
            )
        assert identity is not None
        await other.rollback()


async def test_concurrent_requests_of_a_process_record_a_use_once(
    committed_db: AsyncEngine, demo_key: str, feed: ChangeFeed, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache = AccountsCache(feed)
    await feed.start()
    factory = session_factory(committed_db)

    async def request() -> None:
        async with session_scope(factory) as session:
            assert await authenticate_api_key(session, demo_key, cache) is not None

    await request()  # cached, with its last-used time just written
    later = repository.now() + timedelta(minutes=2)
    monkeypatch.setattr(repository, "now", lambda: later)
    with statements_run(committed_db) as statements:
        # a minute on, the cached time is stale for 20 concurrent requests at once
        await asyncio.gather(*(request() for _ in range(20)))
    assert sum(s.lstrip().startswith("UPDATE api_keys") for s in statements) == 1


async def test_an_expired_entry_is_read_again_by_one_request(
    committed_db: AsyncEngine, demo_key: str, feed: ChangeFeed
) -> None:
    cache = AccountsCache(feed, ttl=0.0)  # every entry is expired as soon as it is stored
    await feed.start()
    factory = session_factory(committed_db)
    async with factory() as session:
        assert await cache.api_key(session, hash_key(demo_key)) is not None

    async def lookup() -> None:
        async with factory() as session:
            assert await cache.api_key(session, hash_key(demo_key)) is not None

    with statements_run(committed_db) as statements:
        await asyncio.gather(*(lookup() for _ in range(20)))
    assert sum("FROM api_keys" in s for s in statements) == 1
