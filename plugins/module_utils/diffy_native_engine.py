# Diffy native collector: run osquery SQL against the native tables in an in-memory SQLite database.
#
# Standard library only; runs on the target host (inside the diffy_run_pack module) and in the
# test-only stand-in osqueryi.  Tables are built lazily: a query is prepared, and every
# "no such table: X" that SQLite reports makes the engine build X (once per engine, except the
# constraint-dependent `file` and `hash`) and retry.  A table the engine does not implement makes
# the query UNSUPPORTED - it is reported, never dropped.
#
# `file` and `hash` are built only for the paths the SQL names: string literals in
# `path = '...'`, `path IN ('...', ...)`, `path LIKE '...'` and the same for `directory`, anywhere in
# the query (any table alias); LIKE patterns are expanded the way osquery expands them (glob, '%%'
# recursive).  SQLite still evaluates the full WHERE clause, so the literals only bound what is read.
# A query on file/hash without such a constraint is an error, as it would be pointless in osquery too.
# A join constraint `h.path = p.path` (either order) where h is `file`/`hash` and p another table of
# the query is what osquery answers by handing each p row's value to the hash table as a path
# constraint (SQLite's xBestIndex/xFilter, osquery/sql/virtual_table.cpp): here p is built first and
# its distinct non-empty values of that column become paths, at most MAX_JOIN_PATHS of them (more
# is an error naming the cap, never a silent cut).
#
# Columns are typed as osquery's specs type them, and values are converted the way osquery's
# virtual tables hand them to SQLite (osquery/sql/dynamic_table_row.cpp:89-150): TEXT as is; INTEGER
# and BIGINT through std::stol(value, 0) - base 0 ("04" is octal 4), trailing junk ignored, no digit
# or overflow = NULL, INTEGER then cut to a 32-bit int; "" = NULL.  So `uid >= 1000` compares numbers
# and the printed values are osquery's ("04" prints 4, "!6" prints "").

import re
import sqlite3
import time

try:  # inside Ansible, the role on roles_path (role module_utils) ...
    from ansible.module_utils.diffy_native_base import c_strtol
    from ansible.module_utils.diffy_native_tables import (
        BUILDERS,
        COLUMNS,
        CONSTRAINED,
        TYPES,
        Context,
        TableUnavailable,
    )
except ImportError:
    try:  # ... the role used from the diffy.diffy collection ...
        from ansible_collections.diffy.diffy.plugins.module_utils.diffy_native_base import c_strtol
        from ansible_collections.diffy.diffy.plugins.module_utils.diffy_native_tables import (
            BUILDERS,
            COLUMNS,
            CONSTRAINED,
            TYPES,
            Context,
            TableUnavailable,
        )
    except ImportError:  # ... and as a plain module (the stand-in osqueryi)
        from diffy_native_base import c_strtol
        from diffy_native_tables import BUILDERS, COLUMNS, CONSTRAINED, TYPES, Context, TableUnavailable


class QueryFailed(Exception):
    """A query did not succeed; `status` is one of error | unsupported | timeout."""

    def __init__(self, status, message):
        Exception.__init__(self, message)
        self.status = status
        self.message = message


_LITERAL = r"'((?:[^']|'')*)'"
_EQ = r"(?:\b[A-Za-z_][A-Za-z0-9_]*\.)?\b%s\s*=\s*" + _LITERAL
_IN = r"(?:\b[A-Za-z_][A-Za-z0-9_]*\.)?\b%s\s+IN\s*\(([^)]*)\)"
_LIKE = r"(?:\b[A-Za-z_][A-Za-z0-9_]*\.)?\b%s\s+LIKE\s+" + _LITERAL
_NO_SUCH_TABLE = re.compile(r"no such table: (?:main\.)?([A-Za-z0-9_]+)")
_NAME = r"([A-Za-z_][A-Za-z0-9_]*)"
_ALIAS = re.compile(r"\b(?:FROM|JOIN)\s+%s(?:\s+AS)?(?:\s+%s)?" % (_NAME, _NAME), re.IGNORECASE)
_JOIN_PATH = re.compile(r"\b%s\.%s\s*=\s*%s\.%s\b" % (_NAME, _NAME, _NAME, _NAME), re.IGNORECASE)
_KEYWORDS = frozenset({"on", "where", "using", "left", "join", "inner", "cross", "group", "order", "limit"})
MAX_JOIN_PATHS = 4096


def join_sources(sql, table):
    """(other table, column) pairs whose values the SQL joins to `table`.path (`t.path = o.col`)."""
    aliases = {}
    for name, alias in _ALIAS.findall(sql):
        aliases[name.lower()] = name.lower()
        if alias and alias.lower() not in _KEYWORDS:
            aliases[alias.lower()] = name.lower()
    sources = []
    for a_alias, a_col, b_alias, b_col in _JOIN_PATH.findall(sql):
        sides = [(a_alias, a_col, b_alias, b_col), (b_alias, b_col, a_alias, a_col)]
        for mine, my_col, other, other_col in sides:
            mine_t, other_t = aliases.get(mine.lower()), aliases.get(other.lower())
            source = (other_t, other_col.lower())
            joined = mine_t == table and my_col.lower() == "path" and other_t not in (None, table)
            if joined and source not in sources:
                sources.append(source)
    return sources


def like_literals(sql, column):
    """Every pattern the SQL matches `column` against with LIKE, in order, unique."""
    values = [m.group(1).replace("''", "'") for m in re.finditer(_LIKE % column, sql, re.IGNORECASE)]
    seen = set()
    return [v for v in values if not (v in seen or seen.add(v))]


def digests_named(sql):
    """The hash columns a query can see: those it names, or all three when it selects `*`."""
    if "*" in sql:
        return ("md5", "sha1", "sha256")
    return tuple(
        name for name in ("md5", "sha1", "sha256") if re.search(r"\b%s\b" % name, sql, re.IGNORECASE)
    )


def osquery_value(value, kind):
    """A builder's value as osquery's typed column holds it (dynamic_table_row.cpp:103-147)."""
    if value is None:
        return None
    if kind == "TEXT":
        return value if isinstance(value, str) else str(value)
    if value == "":
        return None
    number = value if isinstance(value, int) else c_strtol(value, 64)
    if number is None:
        return None
    if kind == "INTEGER":  # sqlite3_result_int(ctx, long): the low 32 bits, signed
        number &= 0xFFFFFFFF
        return number - (1 << 32) if number >= (1 << 31) else number
    return number


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

    def __init__(self, root="/"):
        self.root = root  # where the host's files are read ("/", or a fixture tree in tests)
        self.db = sqlite3.connect(":memory:")
        self.loaded = set()
        self.partial = set()
        self.build_seconds = {}

    def close(self):
        self.db.close()

    def _load(self, table, ctx):
        columns, types = COLUMNS[table], TYPES[table]
        started = time.monotonic()
        rows = BUILDERS[table](ctx)
        self.build_seconds[table] = round(time.monotonic() - started, 4)
        self.db.execute('DROP TABLE IF EXISTS "%s"' % table)
        self.db.execute(
            'CREATE TABLE "%s" (%s)' % (table, ", ".join('"%s" %s' % (c, types[c]) for c in columns))
        )
        self.db.executemany(
            'INSERT INTO "%s" VALUES (%s)' % (table, ", ".join("?" * len(columns))),
            [tuple(osquery_value(row.get(c), types[c]) for c in columns) for row in rows],
        )
        # A builder that read only what the query's constraints name (system_controls by `name`)
        # built a partial table: it serves this query only and is dropped after it.
        narrowed, ctx.narrowed = getattr(ctx, "narrowed", False), False
        if narrowed:
            self.partial.add(table)
        elif table not in CONSTRAINED:
            self.loaded.add(table)

    def _context(self, sql, deadline):
        ctx = Context(
            paths=constraint_literals(sql, "path"),
            directories=constraint_literals(sql, "directory"),
            path_patterns=like_literals(sql, "path"),
            directory_patterns=like_literals(sql, "directory"),
            deadline=deadline,
            root=self.root,
        )
        ctx.digests = digests_named(sql)
        ctx.names = constraint_literals(sql, "name") if re.search(r"\bsystem_controls\b", sql, re.I) else []
        return ctx

    def _drop_partial(self):
        for table in self.partial:
            self.db.execute('DROP TABLE IF EXISTS "%s"' % table)
        self.partial.clear()

    def query(self, sql, timeout=None):
        """Run one query; return (columns, rows as lists of strings).  Raises QueryFailed."""
        try:
            return self._query(sql, timeout)
        finally:
            self._drop_partial()

    def _query(self, sql, timeout):
        deadline = time.monotonic() + timeout if timeout else None
        ctx = self._context(sql, deadline)
        lowered = sql.lower()
        for table in CONSTRAINED:  # constraint-dependent tables are rebuilt for each query
            if re.search(r"\b%s\b" % table, lowered):
                self._join_paths(sql, table, ctx)
                if not (ctx.paths or ctx.directories or ctx.path_patterns or ctx.directory_patterns):
                    raise QueryFailed(
                        "error",
                        "table %s needs a path (or directory) =, IN (...) or LIKE constraint "
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

    def _join_paths(self, sql, table, ctx):
        """Add to ctx.paths the values another table of the query joins to `table`.path."""
        for other, column in join_sources(sql, table):
            if other in CONSTRAINED or other not in BUILDERS or column not in COLUMNS[other]:
                continue
            if other not in self.loaded:
                self._build(other, ctx)
            select = 'SELECT DISTINCT "{c}" FROM "{t}" WHERE "{c}" IS NOT NULL AND "{c}" != \'\''
            values = [v for (v,) in self.db.execute(select.format(c=column, t=other))]
            if len(values) > MAX_JOIN_PATHS:
                raise QueryFailed(
                    "error", "%s.path joined to %d values of %s.%s: more than the cap of %d"
                    % (table, len(values), other, column, MAX_JOIN_PATHS),
                )  # fmt: skip
            ctx.paths.extend(str(v) for v in values if str(v) not in ctx.paths)

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


# How osqueryi --json writes a string: rapidjson's Writer::WriteString (osquery's JSON::toString,
# osquery/utils/json/json.cpp:303-309, is a plain rj::Writer over UTF-8): '"' and '\\' escaped, the
# C0 controls as \b \t \n \f \r or \u00XX with UPPERCASE hex, everything else - non-ASCII too -
# written as it is.
_JSON_ESCAPES = {'"': '\\"', "\\": "\\\\", "\b": "\\b", "\t": "\\t", "\n": "\\n", "\f": "\\f", "\r": "\\r"}
for _code in range(0x20):
    _JSON_ESCAPES.setdefault(chr(_code), "\\u%04X" % _code)
_NEEDS_ESCAPE = re.compile('[\x00-\x1f"\\\\]')


def _json_string(value):
    if _NEEDS_ESCAPE.search(value) is None:
        return '"' + value + '"'
    return '"' + _NEEDS_ESCAPE.sub(lambda match: _JSON_ESCAPES[match.group()], value) + '"'


def osquery_json(columns, rows):
    r"""The bytes `osqueryi --json` prints for these rows (osquery/devtools/printer.cpp:135-148):
    "[\n", each row as one compact object on its own line indented by two spaces, rows joined by
    ",\n", then "\n]\n" (so no rows print "[\n\n]\n").  A row is a std::map
    (osquery/core/sql/row.h:40) filled by the shell's callback (osquery/devtools/shell.cpp:575-582):
    one value per column name - the last one - and names in byte order.  Values the native tables
    decoded with surrogateescape go back to the bytes they were read as, as osquery passes a file
    name's bytes through unchanged (the loader reads such a file as invalid UTF-8 and says so)."""
    names = sorted(set(columns))
    last = {name: index for index, name in enumerate(columns)}
    order = [(_json_string(name), last[name]) for name in names]
    lines = []
    for row in rows:
        fields = ",".join("%s:%s" % (key, _json_string(row[index])) for key, index in order)
        lines.append("  {" + fields + "}")
    text = "[\n" + ",\n".join(lines) + "\n]\n"
    try:
        return text.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:  # a surrogate no byte decoded to: keep it, the loader will say so
        return text.encode("utf-8", "surrogatepass")
