"""Turn a migration file into what runs: statements, and whether a transaction fits.

Checks every file before anything runs, so that all problems are listed at once:
unreadable or non-UTF-8 files, unknown or misplaced directives, SQL that cannot be
split, transaction control inside a migration that ferryman wraps in a transaction,
Python that does not compile or has no ``up``.
"""

from .splitter import SplitError

# Statements that would end ferryman's transaction from inside a migration.
_ENDS = {"COMMIT", "END", "ABORT"}


class Compiled:
    """A script ready to run: its statements and how to run them."""

    __slots__ = ("statements", "transactional", "reason", "notes")

    def __init__(self, statements, transactional, reason=None, notes=()):
        self.statements = statements
        self.transactional = transactional
        self.reason = reason  # why it runs outside a transaction, when it does
        self.notes = list(notes)


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
        return None, [f"{name}: {exc}"]
    statements, adapted = dialect.adapt(statements, phase, options or {})
    if not script.transactional:
        return Compiled(statements, False, "-- ferryman:no-transaction", adapted), []
    for statement in statements:
        if dialect.needs_autocommit(statement.words):
            reason = (f"line {statement.line}: {' '.join(statement.words[:4])} cannot run "
                      "inside a transaction")
            return Compiled(statements, False, reason, adapted), []
    notes, problems = list(adapted), []
    if (len(statements) >= 2 and begins_transaction(statements[0].words)
            and statements[-1].words[:1] and statements[-1].words[0] in ("COMMIT", "END")):
        # golang-migrate runs files as they are, so many wrap themselves in BEGIN/COMMIT;
        # ferryman already runs each migration in a transaction, so the pair goes.
        statements = statements[1:-1]
        notes.append("its own BEGIN ... COMMIT is replaced by ferryman's transaction")
    for statement in statements:
        if begins_transaction(statement.words) or ends_transaction(statement.words):
            problems.append(
                f"{name}:{statement.line}: {' '.join(statement.words[:2])} would end "
                "ferryman's transaction in the middle of the migration; remove it, or "
                "put `-- ferryman:no-transaction` at the top of the file")
    return Compiled(statements, True, notes=notes), problems


def begins_transaction(words):
    """Whether a statement's first words (Statement.words) begin a transaction."""
    return bool(words) and (words[0] == "BEGIN" or words[:2] == ("START", "TRANSACTION"))


def ends_transaction(words):
    """Whether a statement's first words end the transaction it runs in."""
    if not words:
        return False
    if words[0] == "ROLLBACK":
        return "TO" not in words[1:3]  # ROLLBACK TO SAVEPOINT stays inside
    return words[0] in _ENDS and words[1:2] != ("PREPARED",)


def _compile_python(script):
    import ast

    try:
        tree = ast.parse(script.text, filename=script.path)
    except SyntaxError as exc:
        return None, [f"{script.path}:{exc.lineno}: Python syntax error: {exc.msg}"]
    functions = {node.name for node in tree.body
                 if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))}
    problems = []
    if "up" not in functions:
        problems.append(f"{script.path}: a Python migration defines up(ctx) at module level")
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
                problems.append(f"{path}: cannot read: {exc.strerror}")
            except UnicodeDecodeError as exc:
                problems.append(f"{path}: not UTF-8 text (invalid byte at offset {exc.start})")
            else:
                problems.extend(found)
    return problems
