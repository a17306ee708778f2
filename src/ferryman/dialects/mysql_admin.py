"""MySQL and MariaDB: the pipeline's checks, maintenance and monitoring (see base.py,
checklist items 7 and 8), kept apart from the connection and the lock (mysql.py).
Everything reads information_schema for the connection's database (DATABASE())."""

import re

from ..errors import DriverError, InputError, redact
from .base import Catalog

# Added by adapt() in the indexes phase: build the index without blocking writes
# (https://mariadb.com/kb/en/alter-table/#algorithm, the MySQL manual's "Online DDL").
ONLINE = " ALGORITHM=INPLACE LOCK=NONE"
# The server cannot build it online (errors 1845, 1846, 1847: the operation is not
# supported with this ALGORITHM or LOCK).
NOT_ONLINE = {"1845", "1846", "1847"}
_CREATE_INDEX = re.compile(r"^CREATE\s+(?:(?:UNIQUE|FULLTEXT|SPATIAL)\s+)?INDEX\b", re.I)
EXACT_BELOW = 100_000  # estimated rows under which table_sizes counts them
_AUTO_INCREMENT = re.compile(r" AUTO_INCREMENT=\d+")


class MySQLAdmin:
    """The catalog, maintenance and monitoring members of MySQLDialect."""

    def catalog(self, prefix="ferryman_"):
        return MySQLCatalog(self, prefix)

    def _user_tables(self):
        # sorted here: the server's ORDER BY follows its collation (case-insensitive)
        return sorted(r[0] for r in self.query(
            "SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() "
            "AND TABLE_TYPE = 'BASE TABLE'"))

    def _resolve_tables(self, names):
        """The catalog's spelling of each name; InputError naming every one that is not
        a table of this database."""
        known = {name: name for name in self._user_tables()}
        folded = {name.lower(): name for name in known}
        out, missing = [], []
        for name in names:
            found = known.get(name) or folded.get(name.lower())
            (out if found else missing).append(found or name)
        if missing:
            raise InputError(f"no table named {', '.join(map(repr, missing))} in "
                             f"{self.describe()}", hint="`ferryman inspect` lists the tables")
        return out

    # -- maintenance -------------------------------------------------------------------
    def maintenance_statements(self, task, tables=None):
        if task == "refresh":
            return [], "MySQL and MariaDB have no materialized views: nothing to refresh"
        names = self._resolve_tables(tables) if tables else self._user_tables()
        quoted = [self.quote(t) for t in names]
        if not quoted:
            return [], f"{task}: the database has no tables"
        if task == "analyze":
            return [f"ANALYZE TABLE {', '.join(quoted)}"], None
        if task == "vacuum":  # InnoDB rebuilds the table to give its free space back
            return [f"OPTIMIZE TABLE {t}" for t in quoted], (
                "vacuum is OPTIMIZE TABLE: InnoDB rebuilds each table (online where it can)")
        # reindex: a null ALTER rebuilds the table and every index of it
        return [f"ALTER TABLE {t} FORCE" for t in quoted], (
            "reindex is ALTER TABLE ... FORCE: the table and its indexes are rebuilt")

    def purge_target(self, table, column):
        (table,) = self._resolve_tables([table])
        columns = {name.lower(): (name, kind) for name, kind in self.query(
            "SELECT COLUMN_NAME, DATA_TYPE FROM information_schema.COLUMNS WHERE "
            "TABLE_SCHEMA = DATABASE() AND TABLE_NAME = %s", (table,))}
        if column.lower() not in columns:
            raise InputError(f"table {table} has no column {column!r}",
                             hint="its columns: " + ", ".join(c for c, _ in columns.values()))
        column, kind = columns[column.lower()]
        if kind.lower() not in ("date", "datetime", "timestamp"):
            raise InputError(f"column {column} of {table} is {kind}, not a date or a time",
                             hint="purge reads a DATE, DATETIME or TIMESTAMP column")
        t, c = self.quote(table), self.quote(column)
        return {"table": table, "column": column,
                "count": f"SELECT count(*) FROM {t} WHERE {c} < %(cutoff)s",
                "delete": f"DELETE FROM {t} WHERE {c} < %(cutoff)s LIMIT %(size)s"}

    def purge_cutoff(self, days):
        return self.query("SELECT NOW() - INTERVAL %s DAY", (int(days),))[0][0]

    def purge_batch(self, target, cutoff, size):
        with self.connection.cursor() as cursor:
            try:
                return cursor.execute(target["delete"], {"cutoff": cutoff, "size": int(size)})
            except Exception as exc:
                error = self.translate(exc)
                if error is None:
                    raise
                raise error from exc

    # -- monitoring --------------------------------------------------------------------
    def slow_queries(self, limit):
        if not self.query("SELECT @@performance_schema")[0][0]:
            return None, ("slow queries: performance_schema is off on this server; set "
                          "performance_schema=ON in the server's configuration and restart "
                          "it (MariaDB has it off by default)")
        rows = self.query(
            "SELECT DIGEST_TEXT, COUNT_STAR, SUM_TIMER_WAIT / 1e9, AVG_TIMER_WAIT / 1e9, "
            "SUM_ROWS_EXAMINED FROM performance_schema.events_statements_summary_by_digest "
            "WHERE SCHEMA_NAME = DATABASE() ORDER BY AVG_TIMER_WAIT DESC LIMIT %s",
            (int(limit),))
        found = [{"query": _shown(q), "calls": int(calls), "total_ms": float(total or 0),
                  "mean_ms": float(mean or 0), "rows": int(examined or 0)}
                 for q, calls, total, mean, examined in rows]
        return found, None if found else "slow queries: none recorded for this database yet"

    def table_sizes(self):
        rows = self.query(
            "SELECT TABLE_NAME, TABLE_ROWS, DATA_LENGTH + INDEX_LENGTH, DATA_LENGTH, "
            "INDEX_LENGTH FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() "
            "AND TABLE_TYPE = 'BASE TABLE'")
        sizes = []
        for name, estimate, total, data, index in rows:
            # InnoDB's row count is an estimate; a small table is counted
            exact = estimate is None or estimate < EXACT_BELOW
            count = self.query(f"SELECT count(*) FROM {self.quote(name)}")[0][0] if exact \
                else estimate
            sizes.append({"table": name, "rows": int(count), "rows_estimated": not exact,
                          "total_bytes": int(total or 0), "table_bytes": int(data or 0),
                          "indexes_bytes": int(index or 0)})
        sizes.sort(key=lambda s: (-s["total_bytes"], s["table"]))
        return sizes, (f"table sizes: InnoDB's estimates; rows counted below {EXACT_BELOW} "
                       "estimated rows")

    def connections(self):
        rows = self.query(
            "SELECT USER, SUBSTRING_INDEX(HOST, ':', 1), COMMAND, COALESCE(STATE, ''), "
            "COUNT(*), MAX(TIME), MAX(INFO) FROM information_schema.PROCESSLIST "
            "WHERE DB = DATABASE() GROUP BY 1, 2, 3, 4 ORDER BY 5 DESC, 1")
        found = [{"user": user, "client": host, "state": command + (f" ({state})" if state
                                                                   else ""),
                  "count": int(count), "longest_seconds": float(longest or 0),
                  "query": _shown(info)}
                 for user, host, command, state, count, longest, info in rows]
        return found, None

    def locks(self):
        try:
            # the waiting transactions first (INNODB_TRX), their blockers where
            # INNODB_LOCK_WAITS names them. InnoDB refreshes these tables only when no
            # one read them for 0.1 s: a caller polling faster sees them frozen.
            rows = self.query(
                "SELECT r.trx_mysql_thread_id, r.trx_query, "
                "TIMESTAMPDIFF(SECOND, r.trx_wait_started, NOW()), b.trx_mysql_thread_id, "
                "b.trx_query, TIMESTAMPDIFF(SECOND, b.trx_started, NOW()) "
                "FROM information_schema.INNODB_TRX r "
                "LEFT JOIN information_schema.INNODB_LOCK_WAITS w "
                "ON w.requesting_trx_id = r.trx_id "
                "LEFT JOIN information_schema.INNODB_TRX b ON b.trx_id = w.blocking_trx_id "
                "WHERE r.trx_state = 'LOCK WAIT' AND r.trx_mysql_thread_id IN "
                "(SELECT ID FROM information_schema.PROCESSLIST WHERE DB = DATABASE())")
        except DriverError as exc:  # MySQL 8 moved them to performance_schema
            return None, f"locks: not available on this server ({exc.message})"
        found = [{"blocked_connection": blocked, "blocked_query": _shown(query),
                  "waiting_seconds": waiting, "blocking_connection": blocking,
                  "blocking_query": _shown(holding),
                  "blocking_transaction_seconds": held}
                 for blocked, query, waiting, blocking, holding, held in rows]
        return found, None if found else "locks: no transaction waits for a row lock"

    # -- the indexes phase ---------------------------------------------------------------
    @classmethod
    def adapt(cls, statements, phase, options):
        """indexes phase: CREATE INDEX is built online (ALGORITHM=INPLACE LOCK=NONE),
        so writes go on meanwhile; recover() drops the clause where the server cannot."""
        if phase != "indexes":
            return statements, []
        out, notes = [], []
        for st in statements:
            upper = st.text.upper()
            if _CREATE_INDEX.match(st.text) and "ALGORITHM" not in upper and \
                    " LOCK" not in upper:
                out.append(st._replace(text=st.text + ONLINE))
                notes.append(f"line {st.line}: built online (ALGORITHM=INPLACE, LOCK=NONE)")
            else:
                out.append(st)
        return out, notes

    def recover(self, statement, error):
        if statement.endswith(ONLINE) and getattr(error, "sqlstate", None) in NOT_ONLINE:
            return statement[:-len(ONLINE)]
        return False


class MySQLCatalog(Catalog):
    """What the pipeline's checks ask a MySQL or MariaDB database."""

    def tables(self):
        return [t for t in self.db._user_tables() if not t.startswith(self.prefix)]

    def row_count(self, table):
        return self.db.query(f"SELECT count(*) FROM {self.db.quote(table)}")[0][0]

    def table_metrics(self):
        rows = self.db.query(
            "SELECT t.TABLE_NAME, t.DATA_LENGTH + t.INDEX_LENGTH, "
            "(SELECT COUNT(DISTINCT s.INDEX_NAME) FROM information_schema.STATISTICS s "
            " WHERE s.TABLE_SCHEMA = t.TABLE_SCHEMA AND s.TABLE_NAME = t.TABLE_NAME) "
            "FROM information_schema.TABLES t WHERE t.TABLE_SCHEMA = DATABASE() "
            "AND t.TABLE_TYPE = 'BASE TABLE' ORDER BY 1")
        return [{"name": name, "rows": self.row_count(name), "size_bytes": int(size or 0),
                 "indexes": int(indexes)} for name, size, indexes in rows
                if not name.startswith(self.prefix)]

    def _foreign_keys(self):
        """[(name, child, parent, [columns], [referenced columns])]."""
        keys = {}
        for name, child, parent, column, ref in self.db.query(
                "SELECT CONSTRAINT_NAME, TABLE_NAME, REFERENCED_TABLE_NAME, COLUMN_NAME, "
                "REFERENCED_COLUMN_NAME FROM information_schema.KEY_COLUMN_USAGE WHERE "
                "TABLE_SCHEMA = DATABASE() AND REFERENCED_TABLE_NAME IS NOT NULL "
                "ORDER BY TABLE_NAME, CONSTRAINT_NAME, ORDINAL_POSITION"):
            key = keys.setdefault((child, name), [name, child, parent, [], []])
            key[3].append(column)
            key[4].append(ref)
        return list(keys.values())

    def foreign_key_problems(self):
        q = self.db.quote
        problems = []
        for name, child, parent, columns, refs in self._foreign_keys():
            match = " AND ".join(f"p.{q(r)} = c.{q(col)}" for col, r in zip(columns, refs))
            present = " AND ".join(f"c.{q(col)} IS NOT NULL" for col in columns)
            orphans = self.db.query(
                f"SELECT count(*) FROM {q(child)} c WHERE {present} AND NOT EXISTS "
                f"(SELECT 1 FROM {q(parent)} p WHERE {match})")[0][0]
            if orphans:
                problems.append(f"foreign key {name}: {orphans} row(s) of {child} refer to "
                                f"missing rows of {parent}")
        return problems

    def integrity_problems(self):
        problems = []
        for table in self.tables():
            for _name, _op, kind, text in self.db.query(f"CHECK TABLE {self.db.quote(table)}"):
                if str(kind).lower() == "error":
                    problems.append(f"table {table}: {text}")
        return problems

    def can_create(self):
        (who,) = self.db.query("SELECT CURRENT_USER()")[0]
        grants = " ".join(r[0] for r in self.db.query("SHOW GRANTS")).upper()
        database = self.db.query("SELECT DATABASE()")[0][0]
        ok = "ALL PRIVILEGES ON *.*" in grants or f"ALL PRIVILEGES ON `{database}`".upper() \
            in grants or ("CREATE" in grants and "ALTER" in grants)
        return ok, f"{who} {'may' if ok else 'may not'} create and alter in {database}"

    def database_size(self):
        return int(self.db.query(
            "SELECT COALESCE(SUM(DATA_LENGTH + INDEX_LENGTH), 0) FROM information_schema.TABLES "
            "WHERE TABLE_SCHEMA = DATABASE()")[0][0])

    def materialized_views(self):
        return []

    def schema_snapshot(self):
        out = []
        for name, kind in self.db.query(
                "SELECT TABLE_NAME, TABLE_TYPE FROM information_schema.TABLES WHERE "
                "TABLE_SCHEMA = DATABASE() ORDER BY TABLE_TYPE, TABLE_NAME"):
            what = "VIEW" if kind == "VIEW" else "TABLE"
            body = self.db.query(f"SHOW CREATE {what} {self.db.quote(name)}")[0][1]
            out.append(f"-- {what.lower()} {name}\n{_AUTO_INCREMENT.sub('', body)};\n")
        for name, kind in self.db.query(
                "SELECT ROUTINE_NAME, ROUTINE_TYPE FROM information_schema.ROUTINES WHERE "
                "ROUTINE_SCHEMA = DATABASE() ORDER BY 2, 1"):
            out.append(f"-- {kind.lower()} {name}\n")
        for (name,) in self.db.query("SELECT TRIGGER_NAME FROM information_schema.TRIGGERS "
                                     "WHERE TRIGGER_SCHEMA = DATABASE() ORDER BY 1"):
            out.append(f"-- trigger {name}\n")
        return "\n".join(out)

    def suggestions(self):
        return [{"kind": "table_without_primary_key", "table": table,
                 "detail": f"{table} has no primary key: InnoDB adds a hidden one, and row "
                           "based replication must scan the table for every change"}
                for (table,) in self.db.query(
                    "SELECT t.TABLE_NAME FROM information_schema.TABLES t WHERE "
                    "t.TABLE_SCHEMA = DATABASE() AND t.TABLE_TYPE = 'BASE TABLE' AND NOT "
                    "EXISTS (SELECT 1 FROM information_schema.TABLE_CONSTRAINTS c WHERE "
                    "c.TABLE_SCHEMA = t.TABLE_SCHEMA AND c.TABLE_NAME = t.TABLE_NAME AND "
                    "c.CONSTRAINT_TYPE = 'PRIMARY KEY') ORDER BY 1")
                if not table.startswith(self.prefix)]


def _shown(query):
    """A session's query as inspect shows it: without a known secret, clipped."""
    return None if query is None else redact(str(query))[:200]
