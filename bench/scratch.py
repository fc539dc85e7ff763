"""A throwaway database for a benchmark: on DATABASE_URL's server when set, else embedded."""

from __future__ import annotations

import os
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
from psycopg import sql
from sqlalchemy.engine import make_url

from sivug.platform.db import libpq_url
from sivug.platform.embedded_pg import EmbeddedPostgres


@contextmanager
def scratch_database(prefix: str) -> Iterator[str]:
    """The URL of a new, empty database, dropped (or its server stopped) afterwards."""
    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    server = os.environ.get("DATABASE_URL")
    if server is None:
        with tempfile.TemporaryDirectory() as folder:
            embedded = EmbeddedPostgres(Path(folder))
            url = embedded.start(name)
            try:
                yield url
            finally:
                embedded.stop()
        return
    admin = libpq_url(server)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield make_url(server).set(database=name).render_as_string(hide_password=False)
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))
