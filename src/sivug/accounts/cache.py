"""What every API request reads about its caller, kept in memory per web process.

Each request would otherwise look up its API key and then the customs-book preferences,
two round trips that cost more than classifying. The cache answers from memory only while
the process's change feed is live (``sivug.platform.changes``): PostgreSQL announces every
committed change to these rows, and entries are forgotten on the announcement. A write made
by this process is forgotten already at its flush (``_forget_flushed`` below), before it
commits. Entries also expire after ``ttl`` seconds, as a safety net.

A lookup that raced with a change (the change was announced while the row was being read)
is not kept: each announcement moves the cache's generation on. Another process's change
(a key revoked there) takes effect here when its announcement arrives, normally within a
few milliseconds of the commit.
"""

from __future__ import annotations

import time
import weakref
from collections.abc import Awaitable, Callable
from itertools import chain
from typing import Any, TypeVar

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from sivug.accounts import repository
from sivug.accounts.repository import KeyIdentity
from sivug.models import ApiKey, Organization, User
from sivug.platform.changes import ChangeFeed

DEFAULT_TTL_SECONDS = 60.0
#: Bounds each map: past this many entries the map is emptied (it refills from the database).
MAX_ENTRIES = 10_000

T = TypeVar("T")

_caches: weakref.WeakSet[AccountsCache] = weakref.WeakSet()


class AccountsCache:
    def __init__(self, feed: ChangeFeed | None, *, ttl: float = DEFAULT_TTL_SECONDS) -> None:
        self._feed = feed
        self._ttl = ttl
        self._generation = 0
        self._keys: dict[str, tuple[KeyIdentity | None, float]] = {}  # by key hash
        self._organization_books: dict[str, tuple[str | None, float]] = {}
        self._user_books: dict[str, tuple[str | None, float]] = {}
        self._refreshing: set[tuple[int, str]] = set()
        if feed is not None:
            feed.subscribe("api_keys", self.forget_api_key)
            feed.subscribe("organizations", self.forget_organization)
            feed.subscribe("users", self.forget_user)
        _caches.add(self)

    @property
    def usable(self) -> bool:
        return self._feed is not None and self._feed.live

    async def api_key(self, session: AsyncSession, key_hash: str) -> KeyIdentity | None:
        """The valid key with this hash (unknown and revoked keys are never kept)."""
        return await self._lookup(
            self._keys, key_hash, lambda: repository.api_key_identity(session, key_hash)
        )

    async def organization_default_book(
        self, session: AsyncSession, organization_id: str
    ) -> str | None:
        return await self._lookup(
            self._organization_books,
            organization_id,
            lambda: repository.organization_default_book(session, organization_id),
            keep_none=True,
        )

    async def user_preferred_book(self, session: AsyncSession, user_id: str) -> str | None:
        return await self._lookup(
            self._user_books,
            user_id,
            lambda: repository.user_preferred_book(session, user_id),
            keep_none=True,
        )

    def key_used(self, key_hash: str, identity: KeyIdentity) -> None:
        """Record a new last-used time (which does not invalidate the key)."""
        if key_hash in self._keys:
            self._keys[key_hash] = (identity, self._keys[key_hash][1])

    # --- invalidation (subscribers of the change feed, and this process's own flushes) ---

    def forget_api_key(self, key_id: str) -> None:
        self._generation += 1
        if key_id == "*":
            self._keys.clear()
            return
        for key_hash, (identity, _) in list(self._keys.items()):
            if identity is None or str(identity.id) == key_id:
                del self._keys[key_hash]

    def forget_organization(self, organization_id: str) -> None:
        self._generation += 1
        if organization_id == "*":
            self._organization_books.clear()
            self._keys.clear()
            return
        self._organization_books.pop(organization_id, None)
        for key_hash, (identity, _) in list(self._keys.items()):
            if identity is None or identity.organization_id == organization_id:
                del self._keys[key_hash]

    def forget_user(self, user_id: str) -> None:
        self._generation += 1
        if user_id == "*":
            self._user_books.clear()
        else:
            self._user_books.pop(user_id, None)

    async def _lookup(
        self,
        entries: dict[str, tuple[T, float]],
        ident: str,
        load: Callable[[], Awaitable[T]],
        *,
        keep_none: bool = False,
    ) -> T:
        if not self.usable:
            return await load()
        now = time.monotonic()
        found = entries.get(ident)
        if found is not None:
            if found[1] > now:
                return found[0]
            # Expired (the safety net, not an announced change): one request reads it again
            # while the others go on with the value being refreshed, instead of every
            # concurrent request taking a connection at the same moment.
            refreshing = (id(entries), ident)
            if refreshing in self._refreshing:
                return found[0]
            self._refreshing.add(refreshing)
            try:
                return await self._load(entries, ident, load, keep_none, now)
            finally:
                self._refreshing.discard(refreshing)
        return await self._load(entries, ident, load, keep_none, now)

    async def _load(
        self,
        entries: dict[str, tuple[T, float]],
        ident: str,
        load: Callable[[], Awaitable[T]],
        keep_none: bool,
        now: float,
    ) -> T:
        generation = self._generation
        value = await load()
        if value is None and not keep_none:
            entries.pop(ident, None)  # gone (a revoked key): no stale copy is served
        elif generation == self._generation and self.usable:
            if len(entries) >= MAX_ENTRIES:
                entries.clear()
            entries[ident] = (value, now + self._ttl)
        return value


@event.listens_for(Session, "after_flush")
def _forget_flushed(session: Session, _context: Any) -> None:
    """This process's own changes are forgotten as soon as they are flushed."""
    if not _caches:
        return
    for obj in chain(session.dirty, session.deleted):
        if isinstance(obj, ApiKey):
            for cache in _caches:
                cache.forget_api_key(str(obj.id))
        elif isinstance(obj, Organization):
            for cache in _caches:
                cache.forget_organization(obj.id)
        elif isinstance(obj, User):
            for cache in _caches:
                cache.forget_user(obj.id)


#: For callers without a process cache (jobs, the CLI): never live, so every lookup reads the
#: database.
UNCACHED = AccountsCache(None)
