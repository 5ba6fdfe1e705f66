# Diffy native collector: run osquery SQL against the native tables in an in-memory SQLite database.
#
# Standard library only; runs on the target host (inside the diffy_run_pack module) and in the
# test-only stand-in osqueryi.  Tables are built lazily: a query is prepared, and every
# "no such table: X" that SQLite reports makes the engine build X (once per engine, except the
# constraint-dependent `file` and `hash`) and retry.  A table the engine does not implement makes
# the query UNSUPPORTED - it is reported, never dropped.
#
# `file` and `hash` are built only for the paths the SQL names: string literals in
# `path = '...'`, `path IN ('...', ...)`, `directory = '...'` and `directory IN (...)` anywhere in the
# query (any table alias).  SQLite still evaluates the full WHERE clause, so the literals only bound
# what is read: nothing walks the filesystem.  A query on file/hash without such a constraint is an
# error, as it would be pointless in osquery too.
from __future__ import absolute_import, division, print_function

import re
import sqlite3
import time

try:  # inside Ansible, the role on roles_path (role module_utils) ...
    from ansible.module_utils.diffy_native_tables import (
        BUILDERS,
        COLUMNS,
        CONSTRAINED,
        Context,
        TableUnavailable,
    )
except ImportError:
    try:  # ... the role used from the diffy.diffy collection ...
        from ansible_collections.diffy.diffy.plugins.module_utils.diffy_native_tables import (
            BUILDERS,
            COLUMNS,
            CONSTRAINED,
            Context,
            TableUnavailable,
        )
    except ImportError:  # ... and as a plain module (the stand-in osqueryi)
        from diffy_native_tables import BUILDERS, COLUMNS, CONSTRAINED, Context, TableUnavailable

__metaclass__ = type


class QueryFailed(Exception):
    """A query did not succeed; `status` is one of error | unsupported | timeout."""

    def __init__(self, status, message):
        Exception.__init__(self, message)
        self.status = status
        self.message = message


_LITERAL = r"'((?:[^']|'')*)'"
_EQ = r"(?:\b[A-Za-z_][A-Za-z0-9_]*\.)?\b%s\s*=\s*" + _LITERAL
_IN = r"(?:\b[A-Za-z_][A-Za-z0-9_]*\.)?\b%s\s+IN\s*\(([^)]*)\)"
_NO_SUCH_TABLE = re.compile(r"no such table: (?:main\.)?([A-Za-z0-9_]+)")


def constraint_literals(sql, column):
    """Every string literal the SQL compares `column` with using = or IN (...), in order, unique."""
    values = []
    for match in re.finditer(_EQ % column, sql, re.IGNORECASE):
        values.append(match.group(1).replace("''", "'"))
    for match in re.finditer(_IN % column, sql, re.IGNORECASE):
        values.extend(v.replace("''", "'") for v in re.findall(_LITERAL, match.group(1)))
    seen = set()
    return [v for v in values if not (v in seen or seen.add(v))]


class Engine:
    """One in-memory SQLite database per collection; tables are built on first use."""

    def __init__(self):
        self.db = sqlite3.connect(":memory:")
        self.loaded = set()
        self.build_seconds = {}

    def close(self):
        self.db.close()

    def _load(self, table, ctx):
        columns = COLUMNS[table]
        started = time.monotonic()
        rows = BUILDERS[table](ctx)
        self.build_seconds[table] = round(time.monotonic() - started, 4)
        self.db.execute('DROP TABLE IF EXISTS "%s"' % table)
        self.db.execute('CREATE TABLE "%s" (%s)' % (table, ", ".join('"%s" TEXT' % c for c in columns)))
        self.db.executemany(
            'INSERT INTO "%s" VALUES (%s)' % (table, ", ".join("?" * len(columns))),
            [tuple(row.get(c, "") for c in columns) for row in rows],
        )
        if table not in CONSTRAINED:
            self.loaded.add(table)

    def _context(self, sql, deadline):
        return Context(
            paths=constraint_literals(sql, "path"),
            directories=constraint_literals(sql, "directory"),
            deadline=deadline,
        )

    def query(self, sql, timeout=None):
        """Run one query; return (columns, rows as lists of strings).  Raises QueryFailed."""
        deadline = time.monotonic() + timeout if timeout else None
        ctx = self._context(sql, deadline)
        lowered = sql.lower()
        for table in CONSTRAINED:  # constraint-dependent tables are rebuilt for each query
            if re.search(r"\b%s\b" % table, lowered):
                if not (ctx.paths or ctx.directories):
                    raise QueryFailed(
                        "error",
                        "table %s needs a path = '...' or path IN (...) constraint "
                        "(the native collector never walks the filesystem)" % table,
                    )
                self._build(table, ctx)
        for _attempt in range(len(BUILDERS) + 1):
            try:
                return self._execute(sql, deadline)
            except sqlite3.OperationalError as exc:
                missing = _NO_SUCH_TABLE.search(str(exc))
                if not missing:
                    raise QueryFailed("error", str(exc)) from None
                table = missing.group(1)
                if table not in BUILDERS:
                    raise QueryFailed(
                        "unsupported", "no such table: %s (not implemented by the native collector)" % table
                    ) from None
                if table in self.loaded:
                    raise QueryFailed("error", str(exc)) from None
                self._build(table, ctx)
        raise QueryFailed("error", "could not resolve the tables of the query")

    def _build(self, table, ctx):
        try:
            self._load(table, ctx)
        except TimeoutError as exc:
            raise QueryFailed("timeout", str(exc)) from None
        except TableUnavailable as exc:
            raise QueryFailed("error", "table %s: %s" % (table, exc)) from None
        except Exception as exc:  # a builder bug must not sink the other queries
            message = "table %s could not be built: %s: %s" % (table, type(exc).__name__, exc)
            raise QueryFailed("error", message) from None

    def _execute(self, sql, deadline):
        if deadline is not None:
            # Called every 10k SQLite VM steps; returning True interrupts the statement.
            self.db.set_progress_handler(lambda: time.monotonic() > deadline, 10000)
        try:
            cursor = self.db.execute(sql)
            columns = [d[0] for d in cursor.description or []]
            rows = cursor.fetchall()
        except sqlite3.OperationalError as exc:
            if "interrupted" in str(exc) and deadline is not None and time.monotonic() > deadline:
                raise QueryFailed("timeout", "query timed out") from None
            raise
        except sqlite3.Error as exc:
            raise QueryFailed("error", str(exc)) from None
        finally:
            self.db.set_progress_handler(None, 10000)
        return columns, [["" if v is None else str(v) for v in row] for row in rows]


def rows_as_objects(columns, rows):
    """osqueryi --json shape: a list of {column: string}."""
    return [dict(zip(columns, row)) for row in rows]
