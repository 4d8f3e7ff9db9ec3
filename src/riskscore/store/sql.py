"""One SQL surface for every backend: DB-API connections spoken to with `?` placeholders.

SQLite (`sqlite3`) and PostgreSQL (psycopg 3) both speak DB-API 2; they differ in placeholder
style and in a few type names. The online state's logic (`store/state.py`) is written once
against `Sql`, and each backend hands it a connection.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Any, Protocol


class Cursor(Protocol):
    rowcount: int

    def fetchone(self) -> Any: ...

    def fetchall(self) -> list[Any]: ...


class Connection(Protocol):
    def execute(self, sql: str, params: Sequence[Any] = ...) -> Any: ...


class Sql:
    """Statements with `?` placeholders run on a DB-API connection of either dialect."""

    def __init__(self, connection: Any, dialect: str) -> None:
        if dialect not in ("sqlite", "postgres"):
            raise ValueError(f"unknown SQL dialect {dialect!r}")
        self.connection, self.dialect = connection, dialect

    def _text(self, sql: str) -> str:
        return sql if self.dialect == "sqlite" else sql.replace("?", "%s")

    def run(self, sql: str, params: Sequence[Any] = ()) -> int:
        """Run a statement; the number of rows it changed."""
        cursor = self.connection.execute(self._text(sql), tuple(params))
        return int(cursor.rowcount)

    def one(self, sql: str, params: Sequence[Any] = ()) -> tuple[Any, ...] | None:
        row = self.connection.execute(self._text(sql), tuple(params)).fetchone()
        return None if row is None else tuple(row)

    def all(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        return [
            tuple(r) for r in self.connection.execute(self._text(sql), tuple(params)).fetchall()
        ]

    def many(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        """Run a statement once per row (the drivers batch it)."""
        rows = list(rows)
        if not rows:
            return
        if self.dialect == "sqlite":
            self.connection.executemany(sql, rows)
        else:
            with self.connection.cursor() as cursor:
                cursor.executemany(self._text(sql), rows)

    def append(
        self, table: str, rows: Iterable[Sequence[Any]], columns: Sequence[str] = ()
    ) -> None:
        """Append rows to a table (its `columns`, or all of them in order): PostgreSQL's COPY,
        which is several times faster than row-by-row inserts for a history loaded in bulk."""
        rows = list(rows)
        if not rows:
            return
        named = f" ({', '.join(columns)})" if columns else ""
        if self.dialect == "sqlite":
            self.connection.executemany(
                f"INSERT INTO {table}{named} VALUES ({self.marks(len(rows[0]))})", rows
            )
            return
        copying = f"COPY {table}{named} FROM STDIN"
        with self.connection.cursor() as cursor, cursor.copy(copying) as copy:
            for row in rows:
                copy.write_row(row)

    def marks(self, count: int) -> str:
        """`?, ?, ...` for `count` values."""
        return ", ".join("?" * count)


def statements(script: str) -> list[str]:
    """The statements of a migration: each ends with `;` at the end of a line, so that a
    trigger's body may hold `;` within a line."""
    return [s for s in re.split(r";[ \t]*(?:\n|$)", script) if s.strip()]
