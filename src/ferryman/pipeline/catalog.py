"""What the pipeline's check phases ask a database: tables, row counts, foreign keys,
indexes, sizes, extensions, privileges, and the schema. One class per engine, with the
same methods; ``catalog_for(db)`` picks it.

Every query here is read-only except ``analyze``, ``refresh`` and ``enable_extension``
(the optimize phase).
"""

import os

from ..errors import DriverError


def catalog_for(db, prefix="ferryman_"):
    return (SQLiteCatalog if db.name == "sqlite" else PostgreSQLCatalog)(db, prefix)


def ident(name):
    return '"' + name.replace('"', '""') + '"'


class SQLiteCatalog:
    def __init__(self, db, prefix):
        self.db = db
        self.prefix = prefix

    def tables(self):
        return [r[0] for r in self.db.query(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' "
            "ESCAPE '\\' ORDER BY name") if not r[0].startswith(self.prefix)]

    def views(self):
        return [r[0] for r in self.db.query(
            "SELECT name FROM sqlite_master WHERE type = 'view' ORDER BY name")]

    def row_count(self, table):
        return self.db.query(f"SELECT count(*) FROM {ident(table)}")[0][0]

    def table_metrics(self):
        sizes = self._sizes()
        out = []
        for table in self.tables():
            indexes = self.db.query(f"PRAGMA index_list({ident(table)})")
            out.append({"name": table, "rows": self.row_count(table),
                        "size_bytes": sizes.get(table), "indexes": len(indexes)})
        return out

    def _sizes(self):
        """Bytes per table and its indexes, from the dbstat virtual table when SQLite was
        built with it (https://sqlite.org/dbstat.html)."""
        try:
            rows = self.db.query("SELECT name, sum(pgsize) FROM dbstat GROUP BY name")
        except DriverError:
            return {}
        by_name = dict(rows)
        indexes = self.db.query("SELECT name, tbl_name FROM sqlite_master WHERE type = 'index'")
        for index, table in indexes:
            if table in by_name and index in by_name:
                by_name[table] += by_name[index]
        return by_name

    def foreign_key_problems(self):
        """Rows whose foreign key points nowhere (https://sqlite.org/pragma.html)."""
        problems = []
        for table, rowid, parent, _fk in self.db.query("PRAGMA foreign_key_check")[:50]:
            problems.append(f"{table} row {rowid} refers to a missing row of {parent}")
        return problems

    def integrity_problems(self):
        result = [r[0] for r in self.db.query("PRAGMA integrity_check")]
        return [] if result == ["ok"] else [f"integrity_check: {line}" for line in result[:20]]

    def server_version(self):
        import sqlite3

        return sqlite3.sqlite_version

    def available_extensions(self):
        return set()

    def can_create(self):
        folder = os.path.dirname(os.path.abspath(self.db.url.path)) or "."
        path = self.db.url.path
        ok = os.access(folder, os.W_OK) and (not os.path.exists(path) or os.access(path, os.W_OK))
        return ok, f"{'can' if ok else 'cannot'} write {path} and its folder (journal files)"

    def database_size(self):
        try:
            return os.path.getsize(self.db.url.path)
        except OSError:
            return 0

    def analyze(self, tables):
        for table in tables:
            self.db.execute(f"ANALYZE {ident(table)}")
        return len(tables)

    def materialized_views(self):
        return []

    def refresh(self, name, concurrently=False):
        raise NotImplementedError

    def enable_extension(self, name):
        return f"SQLite has no extension {name!r} to enable"

    def schema_snapshot(self):
        rows = self.db.query(
            "SELECT type, name, sql FROM sqlite_master WHERE sql IS NOT NULL "
            "ORDER BY CASE type WHEN 'table' THEN 0 WHEN 'index' THEN 1 WHEN 'view' THEN 2 "
            "ELSE 3 END, name")
        return "".join(f"-- {kind} {name}\n{sql};\n\n" for kind, name, sql in rows)

    def suggestions(self):
        out = []
        for table in self.tables():
            indexed = set()
            for index in self.db.query(f"PRAGMA index_list({ident(table)})"):
                first = self.db.query(f"PRAGMA index_info({ident(index[1])})")
                if first:
                    indexed.add(first[0][2])
            for fk in self.db.query(f"PRAGMA foreign_key_list({ident(table)})"):
                column = fk[3]
                if column not in indexed:
                    out.append({"kind": "foreign_key_without_index", "table": table,
                                "detail": f"{table}.{column} refers to {fk[2]} but has no index; "
                                          "joins and deletes of the parent scan the table"})
        if not self.db.query("SELECT name FROM sqlite_master WHERE name = 'sqlite_stat1'"):
            out.append({"kind": "never_analyzed", "table": None,
                        "detail": "the database was never analyzed: run `ferryman maintain "
                                  "analyze`"})
        return out


class PostgreSQLCatalog:
    def __init__(self, db, prefix):
        self.db = db
        self.prefix = prefix

    def tables(self):
        return [r[0] for r in self.db.query(
            "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE c.relkind IN ('r', 'p') AND n.nspname = current_schema() "
            "ORDER BY c.relname") if not r[0].startswith(self.prefix)]

    def views(self):
        return [r[0] for r in self.db.query(
            "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE c.relkind IN ('v', 'm') AND n.nspname = current_schema() ORDER BY 1")]

    def row_count(self, table):
        return self.db.query(f"SELECT count(*) FROM {ident(table)}")[0][0]

    def table_metrics(self):
        rows = self.db.query(
            "SELECT c.relname, pg_total_relation_size(c.oid), "
            "(SELECT count(*) FROM pg_index i WHERE i.indrelid = c.oid) "
            "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE c.relkind IN ('r', 'p') AND n.nspname = current_schema() ORDER BY 1")
        return [{"name": name, "rows": self.row_count(name), "size_bytes": size,
                 "indexes": indexes} for name, size, indexes in rows
                if not name.startswith(self.prefix)]

    def _foreign_keys(self):
        return self.db.query(
            "SELECT con.conname, con.conrelid::regclass::text, con.confrelid::regclass::text, "
            "(SELECT array_agg(a.attname ORDER BY k.i) FROM unnest(con.conkey) WITH ORDINALITY "
            " k(n, i) JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.n), "
            "(SELECT array_agg(a.attname ORDER BY k.i) FROM unnest(con.confkey) WITH ORDINALITY "
            " k(n, i) JOIN pg_attribute a ON a.attrelid = con.confrelid AND a.attnum = k.n), "
            "con.convalidated FROM pg_constraint con JOIN pg_namespace n "
            "ON n.oid = con.connamespace WHERE con.contype = 'f' AND n.nspname = current_schema()")

    def foreign_key_problems(self):
        """Orphan rows for each foreign key. A validated key cannot have them unless its
        triggers were disabled (session_replication_role = replica); a NOT VALID one can."""
        problems = []
        for name, child, parent, columns, refs, _valid in self._foreign_keys():
            match = " AND ".join(f"p.{ident(r)} = c.{ident(col)}" for col, r in zip(columns, refs))
            present = " AND ".join(f"c.{ident(col)} IS NOT NULL" for col in columns)
            orphans = self.db.query(
                f"SELECT count(*) FROM {child} c WHERE {present} AND NOT EXISTS "
                f"(SELECT 1 FROM {parent} p WHERE {match})")[0][0]
            if orphans:
                problems.append(f"foreign key {name}: {orphans} row(s) of {child} refer to "
                                f"missing rows of {parent}")
        return problems

    def integrity_problems(self):
        problems = [f"constraint {name} on {table} is NOT VALID: existing rows were never "
                    "checked" for name, table in self.db.query(
                        "SELECT con.conname, con.conrelid::regclass::text FROM pg_constraint con "
                        "JOIN pg_namespace n ON n.oid = con.connamespace "
                        "WHERE NOT con.convalidated AND n.nspname = current_schema()")]
        problems += [f"index {name} is invalid (a failed CREATE INDEX CONCURRENTLY?)"
                     for (name,) in self.db.query(
                         "SELECT i.indexrelid::regclass::text FROM pg_index i JOIN pg_class c "
                         "ON c.oid = i.indexrelid JOIN pg_namespace n ON n.oid = c.relnamespace "
                         "WHERE NOT i.indisvalid AND n.nspname = current_schema()")]
        return problems

    def server_version(self):
        return self.db.server_version()

    def available_extensions(self):
        return {r[0] for r in self.db.query("SELECT name FROM pg_available_extensions")}

    def can_create(self):
        (ok,) = self.db.query("SELECT has_schema_privilege(current_schema(), 'CREATE')")[0]
        (who, schema) = self.db.query("SELECT current_user, current_schema()")[0]
        return ok, f"{who} {'may' if ok else 'may not'} create and alter in schema {schema}"

    def database_size(self):
        return self.db.query("SELECT pg_database_size(current_database())")[0][0]

    def analyze(self, tables):
        for table in tables:
            self.db.execute(f"ANALYZE {ident(table)}")
        return len(tables)

    def materialized_views(self):
        """(name, has a unique index, is populated) for each materialized view."""
        return self.db.query(
            "SELECT c.relname, EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = c.oid AND "
            "i.indisunique AND i.indisvalid AND i.indpred IS NULL), c.relispopulated "
            "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE c.relkind = 'm' AND n.nspname = current_schema() ORDER BY 1")

    def refresh(self, name, concurrently=False):
        # CONCURRENTLY lets readers go on, but needs a unique index and a populated view
        # (https://www.postgresql.org/docs/current/sql-refreshmaterializedview.html).
        how = " CONCURRENTLY" if concurrently else ""
        self.db.execute(f"REFRESH MATERIALIZED VIEW{how} {ident(name)}")

    def enable_extension(self, name):
        if name not in self.available_extensions():
            return f"extension {name} is not available on this server"
        self.db.execute(f"CREATE EXTENSION IF NOT EXISTS {ident(name)}")
        return None

    def schema_snapshot(self):
        rows = self.db.query(
            "SELECT c.relkind, c.relname, "
            "CASE WHEN c.relkind IN ('v', 'm') THEN pg_get_viewdef(c.oid, true) ELSE "
            "(SELECT string_agg(a.attname || ' ' || format_type(a.atttypid, a.atttypmod) || "
            "CASE WHEN a.attnotnull THEN ' NOT NULL' ELSE '' END, ', ' ORDER BY a.attnum) "
            "FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped) "
            "END FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p', 'v', 'm') "
            "ORDER BY c.relkind, c.relname")
        kinds = {"r": "table", "p": "table", "v": "view", "m": "materialized view"}
        out = [f"-- {kinds[kind]} {name}\n{body}\n" for kind, name, body in rows]
        indexes = self.db.query(
            "SELECT indexdef FROM pg_indexes WHERE schemaname = current_schema() ORDER BY "
            "tablename, indexname")
        constraints = self.db.query(
            "SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid) FROM "
            "pg_constraint WHERE connamespace = current_schema()::regnamespace AND "
            "contype IN ('f', 'c', 'u') ORDER BY 1, 2")
        out += [f"{sql};\n" for (sql,) in indexes]
        out += [f"-- constraint {name} on {table}: {body}\n" for table, name, body in constraints]
        return "\n".join(out)

    def suggestions(self):
        out = []
        for name, child, _parent, columns, _refs, _valid in self._foreign_keys():
            covered = self.db.query(
                "SELECT 1 FROM pg_index i WHERE i.indrelid = %s::regclass AND "
                "(SELECT array_agg(a.attname ORDER BY k.i) FROM unnest(i.indkey) WITH ORDINALITY "
                " k(n, i) JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.n "
                " WHERE k.i <= %s) = %s::name[]", (child, len(columns), columns))
            if not covered:
                out.append({"kind": "foreign_key_without_index", "table": child,
                            "detail": f"{child}({', '.join(columns)}) of {name} has no index; "
                                      "joins and deletes of the parent scan the table"})
        for (table,) in self.db.query(
                "SELECT relname FROM pg_stat_user_tables WHERE schemaname = current_schema() "
                "AND last_analyze IS NULL AND last_autoanalyze IS NULL ORDER BY 1"):
            if not table.startswith(self.prefix):
                out.append({"kind": "never_analyzed", "table": table,
                            "detail": f"{table} was never analyzed: `ferryman maintain analyze "
                                      f"--table {table}`"})
        for index, table in self.db.query(
                "SELECT s.indexrelname, s.relname FROM pg_stat_user_indexes s JOIN pg_index i "
                "ON i.indexrelid = s.indexrelid WHERE s.schemaname = current_schema() AND "
                "s.idx_scan = 0 AND NOT i.indisunique AND NOT i.indisprimary ORDER BY 2, 1"):
            if not table.startswith(self.prefix):
                out.append({"kind": "unused_index", "table": table,
                            "detail": f"index {index} on {table} was never used since the "
                                      "statistics were reset; it costs every write"})
        return out
