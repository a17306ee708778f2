"""Turn a migration file into what runs: statements, and whether a transaction fits.

Checks every file before anything runs, so that all problems are listed at once:
unreadable or non-UTF-8 files, unknown or misplaced directives, SQL that cannot be
split, a file that ends inside a transaction of its own, Python that does not compile or
has no ``up``.

A SQL file that controls its own transactions (``BEGIN; ... COMMIT;`` blocks around
data fixes, a ``CREATE INDEX CONCURRENTLY`` between them: golang-migrate runs such a
file as written) runs as ``psql -v ON_ERROR_STOP=1 -f`` runs it: statement by
statement outside ferryman's transaction, each block committing where the file says.
A single ``BEGIN ... COMMIT`` around the whole file is the exception: ferryman's own
transaction replaces it.
"""

import re

from .splitter import SplitError

# Statements that end the transaction they run in (see ends_transaction).
_ENDS = {"COMMIT", "END", "ABORT"}


class Compiled:
    """A script ready to run: its statements and how to run them."""

    __slots__ = ("statements", "transactional", "reason", "notes", "own_transactions")

    def __init__(self, statements, transactional, reason=None, notes=(),
                 own_transactions=False):
        self.statements = statements
        self.transactional = transactional
        self.reason = reason  # why it runs outside a transaction, when it does
        self.notes = list(notes)
        # its statements begin and end transactions of their own (it runs as written)
        self.own_transactions = own_transactions


def compile_script(script, dialect, phase="core", options=None):
    """Compile ``script`` for ``dialect`` (a dialect class). Returns (Compiled, problems).

    The dialect may adapt the statements to the phase (``dialect.adapt``): on
    PostgreSQL, indexes are built CONCURRENTLY and constraints added NOT VALID, then
    validated, so that the tables stay writable.
    """
    if script.kind == "python":
        return _compile_python(script)
    name = script.path
    try:
        statements = script.split(dialect)
    except SplitError as exc:
        return None, [_split_problem(name, exc)]
    notes = []
    if script.transactional and _wrapped(statements, dialect):
        # golang-migrate runs files as they are, so many wrap themselves in BEGIN/COMMIT;
        # ferryman already runs each migration in a transaction, so the pair goes.
        statements = statements[1:-1]
        notes.append("its own BEGIN ... COMMIT is replaced by ferryman's transaction")
    control = [s for s in statements if controls_transaction(s.words)]
    if control:
        return _as_written(script, statements, control[0])
    statements, adapted = dialect.adapt(statements, phase, options or {})
    notes.extend(adapted)
    if not script.transactional:
        return Compiled(statements, False, "-- ferryman:no-transaction", notes), []
    for statement in statements:
        if dialect.needs_autocommit(statement.words):
            reason = (f"line {statement.line}: {' '.join(statement.words[:4])} cannot run "
                      "inside a transaction")
            return Compiled(statements, False, reason, notes), []
    return Compiled(statements, True, notes=notes), []


def _wrapped(statements, dialect):
    """Whether the file is one BEGIN ... COMMIT around statements that all fit in a
    transaction: the pair ferryman's own transaction replaces."""
    if len(statements) < 2 or not begins_transaction(statements[0].words):
        return False
    last = statements[-1].words
    if last[:1] not in (("COMMIT",), ("END",)) or _chains(last):
        return False
    return not any(controls_transaction(s.words) or dialect.needs_autocommit(s.words)
                   for s in statements[1:-1])


def _as_written(script, statements, first):
    """A file that controls its own transactions, compiled to run as written: not
    adapted to the phase either (a rewrite could land inside one of its blocks)."""
    if script.transactional:
        reason = (f"line {first.line}: the file controls its own transactions "
                  f"({' '.join(first.words[:2])} ...); it runs as written, statement by "
                  "statement")
    else:
        reason = "-- ferryman:no-transaction"
    notes, problems = _blocks(script.path, statements)
    return Compiled(statements, False, reason, notes, own_transactions=True), problems


def _blocks(path, statements):
    """Follow the file's own transactions as PostgreSQL would, statement by statement:
    (notes, problems). A BEGIN inside an open transaction and a COMMIT or ROLLBACK with
    none open do nothing there but warn (the runner skips them on every engine, so that
    SQLite, which refuses them, runs the file alike); a BEGIN never committed is a
    problem, since ferryman's next write on the connection would commit it."""
    notes, opened = [], None
    for statement in statements:
        words = " ".join(statement.words[:2])
        if begins_transaction(statement.words):
            if opened is not None:
                notes.append(f"line {statement.line}: {words} inside the transaction begun "
                             f"at line {opened.line} does nothing and is skipped")
            else:
                opened = statement
        elif ends_transaction(statement.words):
            if opened is None:
                notes.append(f"line {statement.line}: {words} with no transaction open "
                             "does nothing and is skipped")
            elif not _chains(statement.words):
                opened = None
    if opened is None:
        return notes, []
    words = " ".join(opened.words[:2])
    return notes, [_problem(path, opened.line, "transaction", f"{words} at line "
                            f"{opened.line} is never committed: the file ends inside its own "
                            "transaction", "add COMMIT; after its last statement, or "
                            "ROLLBACK; to undo it")]


def controls_transaction(words):
    """Whether a statement begins or ends a transaction (Statement.words)."""
    return begins_transaction(words) or ends_transaction(words)


def begins_transaction(words):
    """Whether a statement's first words (Statement.words) begin a transaction."""
    return bool(words) and (words[0] == "BEGIN" or words[:2] == ("START", "TRANSACTION"))


def ends_transaction(words):
    """Whether a statement's first words end the transaction it runs in. COMMIT
    PREPARED and ROLLBACK PREPARED end another, prepared one; PREPARE TRANSACTION
    ends this one (https://www.postgresql.org/docs/current/sql-prepare-transaction.html)."""
    if not words:
        return False
    if words[:2] == ("PREPARE", "TRANSACTION"):
        return True
    if words[0] == "ROLLBACK":
        # ROLLBACK [WORK | TRANSACTION] TO SAVEPOINT stays inside
        return "TO" not in words[1:3] and words[1:2] != ("PREPARED",)
    return words[0] in _ENDS and words[1:2] != ("PREPARED",)


def _chains(words):
    """COMMIT AND CHAIN and ROLLBACK AND CHAIN begin a new transaction at once."""
    return "CHAIN" in words and "NO" not in words


def _compile_python(script):
    import ast

    try:
        tree = ast.parse(script.text, filename=script.path)
    except SyntaxError as exc:
        return None, [_problem(script.path, exc.lineno, "python",
                               f"Python syntax error: {exc.msg}",
                               f"correct the code; `python -m py_compile {script.path}` "
                               "shows the error in context")]
    functions = {node.name for node in tree.body
                 if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))}
    problems = []
    if "up" not in functions:
        problems.append(_problem(script.path, None, "python", "a Python migration "
                                 "defines up(ctx) at module level", "add `def up(ctx):` at "
                                 "the module's top level (and `def down(ctx):` to undo it)"))
    return Compiled((), script.transactional,
                    None if script.transactional else "# ferryman:no-transaction"), problems


def check_files(listing, dialect):
    """Every problem in the migration files, for ``dialect`` (a class): names first, then
    contents. Reads and hashes every file once; later reads come from the cache."""
    problems = list(listing.problems)
    for migration in listing.migrations + listing.repeatables:
        directions = ("up", "down") if migration.down_path else ("up",)
        for direction in directions:
            path = migration.path if direction == "up" else migration.down_path
            try:
                _compiled, found = migration.compiled(direction, dialect)
            except OSError as exc:
                problems.append(_problem(path, None, "unreadable",
                                         f"cannot read: {exc.strerror}",
                                         "make it a regular file this user can read, or "
                                         "start its name with _ to leave it out"))
            except UnicodeDecodeError as exc:
                problems.append(_problem(path, None, "encoding", "not UTF-8 text (invalid "
                                         f"byte at offset {exc.start})", "save it as UTF-8 "
                                         "(iconv -f ITS_ENCODING -t utf-8 converts it)"))
            else:
                problems.extend(found)
    return problems


def _problem(file, line, kind, message, hint):
    """A core/formats.py Problem (formats is imported only when there is one)."""
    from .formats import Problem

    return Problem(file, line, kind, message, hint)


_OPENED_AT = re.compile(r"opened at line ([0-9]+)")


def _split_problem(path, error):
    """The problem of SQL the splitter cannot cut (SplitError: ``unterminated ...
    opened at line N``), at that line."""
    opened = _OPENED_AT.search(str(error))
    return _problem(path, int(opened.group(1)) if opened else None, "split", str(error),
                    "close it where it should end: everything after it reads as part of it, "
                    "so no statement can be cut")
