"""Split the text of a SQL migration file into statements to run one by one.

DB-API drivers execute one statement per call (sqlite3 refuses more), so a
migration file has to be cut at its top-level semicolons -- and only there:
a ';' inside a string, a quoted identifier, a comment, a dollar-quoted body,
a trigger body or a SQL-standard function body belongs to its statement.

Speed matters (thousands of files per run), so it is a single pass driven
by one regex per dialect: each match skips code in bulk (quoted runs
included) and stops at the next token that Python must see -- a ';', a
comment, a dollar quote or an unterminated opener; at the start of a
statement it also captures the first six words. So a typical statement costs
one match. Only statements that may hold a BEGIN ... END body (or, in
PostgreSQL, a parenthesised rule action list) get a word-by-word look.

The patterns use no possessive quantifier and no atomic group: Python 3.11.0 to
3.11.4 (Debian 12's python3 is 3.11.2) can loop forever on them (CPython
gh-106052, fixed in 3.11.5), and requires-python admits those releases. Where a
pattern must not backtrack, it takes the classic equivalent: a lookahead, which
Python never re-enters once it has matched, captures the run, and a
backreference consumes it (see _atomic).
"""

from __future__ import annotations

import re
from collections import namedtuple
from collections.abc import Callable
from functools import partial

__all__ = ["SplitError", "Statement", "split"]


class Statement(namedtuple("Statement", "text line words")):
    """One statement to execute: (text, line, words).

    text: stripped, without its terminating ';', without the comments before
    it or between its last code and the ';'; comments inside stay verbatim.
    line: the 1-based line of its first character.
    words: its first six (or fewer) bare words, uppercased, for classifying
    it (BEGIN, CREATE INDEX CONCURRENTLY...): quoted identifiers, literals,
    numbers and comments are skipped.

    A collections.namedtuple, not typing.NamedTuple: importing typing would cost
    every ``ferryman up`` a few milliseconds before its first statement.
    """

    __slots__ = ()


class SplitError(ValueError):
    """The input ends inside a string, identifier, comment or body."""


_WS = " \t\n\r\f\v"  # SQL whitespace; str.strip() would also eat U+00A0 & co.
# Identifier characters. PostgreSQL (scan.l: ident_cont) and SQLite
# (tokenize.c: IdChar) both accept digits, '_', '$' and any non-ASCII
# character; _IDSTART (no '$') also starts numbers, which lex alike here.
#
# Each class is written as its ASCII part plus "every non-ASCII character", via a
# negated class of the ASCII characters left out: Python's re compiler takes about
# 5 ms per class holding the range \x80-\U0010ffff, and the patterns below hold
# over a hundred of them, which cost 0.7 s at every start; negated ASCII classes
# compile in microseconds and match the same characters.


def _with_non_ascii(keep):
    """A class matching ASCII characters for which keep(c), and all non-ASCII."""
    return "[^" + "".join(re.escape(chr(i)) for i in range(128) if not keep(chr(i))) + "]"


def _ascii_only(keep):
    """A class matching only the ASCII characters for which keep(c)."""
    return "[" + "".join(re.escape(chr(i)) for i in range(128) if keep(chr(i))) + "]"


_IDC = _with_non_ascii(lambda c: c.isalnum() or c in "_$")
_IDSTART = _with_non_ascii(lambda c: c.isalnum() or c == "_")
_WORD_START = _with_non_ascii(lambda c: c.isalpha() or c == "_")
# Looking back from a quote: is it the E'' of an escape string? (A lone E,
# not the end of a longer identifier.)
_E_PREFIXED = f"(?<=[Ee])(?<!{_IDC}[Ee])"
_NOT_E_PREFIXED = f"(?:(?<![Ee])|(?<={_IDC}[Ee]))"
_WORD = f"{_WORD_START}{_IDC}*"
_NUMBER = f"[0-9]{_IDC}*"  # skipped whole: the e of 1e10 is no word
_PG_TAG = f"{_WORD_START}{_IDSTART}*"
_PG_COMMENT_PART = re.compile(r"/\*|\*/")

# Quoted runs, written as "unrolled loops" so that they match in one go.
_SQ = r"'[^']*(?:''[^']*)*'"  # '' doubles a quote; backslash is plain
_DQ = r'"[^"]*(?:""[^"]*)*"'
_BQ = r"`[^`]*(?:``[^`]*)*`"
_ESQ = r"'[^'\\]*(?:(?:''|\\.)[^'\\]*)*'"  # backslash escapes too
_EDQ = r'"[^"\\]*(?:(?:""|\\.)[^"\\]*)*"'


def _atomic(pattern: str, name: str) -> str:
    """*pattern* matched once and never given back, as an atomic group would be.

    The lookahead's capture is final (Python does not backtrack into a lookahead
    that matched) and the backreference consumes exactly that text.
    """
    return f"(?=(?P<{name}>{pattern}))(?P={name})"


_WORD_GROUPS = tuple(f"w{i}" for i in range(6))  # the first six words, in order

# tokens: skips plain code, then names the next token; opening: the same, also
# capturing the first six words; first_words: the first six words from a position
# on; scan: words and parentheses, for the trackers; classify: called when
# words[0] == CREATE, returns a _Found.
_Dialect = namedtuple("_Dialect", "tokens opening first_words scan classify")


def _dialect(specials: str, plain: str, quoted: str, prefix: str,
             classify: Callable[[list[str]], _Found], **tokens: str) -> _Dialect:
    """Build a dialect's regexes from its lexical pieces.

    specials: the characters that may start a token, a quoted run or a
    comment; plain: those of them that are plain code where they stand;
    quoted: complete strings and quoted identifiers; prefix: a letter that
    belongs to the literal after it (E'..'), not a word; tokens: what the
    main loop handles, each a named alternative, tried in order (so a
    construct's complete form comes before "bad_*", its unterminated opener).
    """
    # The first six words: one nested optional group per word, w0 to w5 (a
    # repeated group would keep only its last match). Between words, the
    # look-ahead lets ordinary characters through with one test instead of
    # failing every alternative in turn; a prefix letter is skipped there,
    # before the word pattern can take it. What stands between two words is
    # atomic: given back, "123456" could be cut into numbers in 2**5 ways, each
    # tried when no word follows.
    prefix = f"|{prefix}" if prefix else ""
    special = re.compile(f"[{specials}]")
    other = _ascii_only(lambda c: not special.match(c) and not (c.isalnum() or c == "_"))
    other += "*"
    rare = f"(?=[{specials}0-9]{prefix})(?:{_NUMBER}|{quoted}|{plain}{prefix})"
    words = ""
    for i in reversed(range(6)):
        gap = _atomic(f"{other}(?:{rare}{other})*", f"g{i}")
        words = f"(?:{gap}(?P<w{i}>{_WORD}){words})?"
    # Only a special character can start a token, so the skip takes all others
    # in bulk, and a special one when it is in a quoted run or plain where it
    # stands (a '-' that starts no comment). It is atomic: never giving back,
    # it tries nothing twice. Group 1 (leading whitespace) tells where a
    # statement's code starts and whether the skipped text holds code.
    skip = _atomic(f"(?:[^{specials}]+|{quoted}|{plain})*", "skip")
    alts = "|".join(f"(?P<{k}>{v})" for k, v in tokens.items())
    rest = f"{skip}(?:{alts}|(?P<eof>\\Z))"
    scan = f"{quoted}|{_NUMBER}|(?P<w>{_WORD})|(?P<p>[()])"
    return _Dialect(*(re.compile(x, re.S) for x in (
        f"([{_WS}]*){rest}", f"([{_WS}]*)(?={words}){rest}", words, scan)), classify)


class _Body:
    """Tracks a BEGIN ... END body whose inner ';' don't end the statement.

    A body is a list of ';'-terminated statements, so its END is the word that
    stands where the next of them would start, after a ';' (or, in PostgreSQL,
    right after BEGIN ATOMIC), and is followed by the ';' that ends the whole
    statement. SQLite's own sqlite3_complete() ends a trigger the same way, at
    ";END;" (complete.c). So CASE ... END inside the body needs no depth count,
    and a column named "end" -- legal in SQLite, where END falls back to an
    identifier (parse.y %fallback) -- cannot close the body early, as it would
    with BEGIN/CASE/END counting. PostgreSQL's "BEGIN ATOMIC stmt; ... END"
    has the same shape (gram.y: routine_body_stmt_list).
    """

    __slots__ = ("atomic", "state", "prev", "prev_pos", "opened", "at_slot")

    def __init__(self, atomic: bool) -> None:
        self.atomic = atomic  # PostgreSQL: the opener is BEGIN ATOMIC
        self.state = 0  # 0: before BEGIN, 1: inside the body, 2: just after its END
        self.prev, self.prev_pos, self.opened = "", -1, -1
        self.at_slot = False  # the next word starts a statement of the body

    def feed(self, scan: re.Pattern[str], sql: str, a: int, b: int, skip: int) -> None:
        for m in scan.finditer(sql, a, b):
            if m.lastgroup != "w":
                continue
            if skip:  # words already seen when the statement was classified
                skip -= 1
                continue
            word = m.group().upper()
            if self.state == 0:
                if word == "BEGIN" and not self.atomic:  # a trigger body is never empty
                    self.state, self.at_slot, self.opened = 1, False, m.start()
                elif word == "ATOMIC" and self.prev == "BEGIN":  # "BEGIN ATOMIC END" is valid
                    self.state, self.at_slot, self.opened = 1, True, self.prev_pos
                self.prev, self.prev_pos = word, m.start()
            else:
                # The END must also be followed by the ';' (or the end of input);
                # if a word comes first, that END was something else.
                self.state = 2 if self.at_slot and word == "END" else 1
                self.at_slot = False

    def semi(self) -> bool:
        """Whether a ';' seen now belongs to the body."""
        self.at_slot = True
        return self.state == 1

    def unclosed(self) -> str | None:
        if self.state != 1:
            return None
        return "BEGIN ATOMIC ... END block" if self.atomic else "BEGIN ... END block"


class _RuleActions:
    """CREATE RULE ... DO (action; action): PostgreSQL's only top-level
    statement with ';' inside parentheses (gram.y: RuleActionMulti). psql
    keeps such ';' in the statement by tracking parenthesis depth."""

    __slots__ = ("depth", "opened")

    def __init__(self) -> None:
        self.depth, self.opened = 0, -1

    def feed(self, scan: re.Pattern[str], sql: str, a: int, b: int, skip: int) -> None:
        for m in scan.finditer(sql, a, b):  # no parenthesis comes before RULE
            if m.lastgroup == "p":
                if m.group() == ")":
                    self.depth = max(self.depth - 1, 0)
                else:
                    if self.depth == 0:
                        self.opened = m.start()
                    self.depth += 1

    def semi(self) -> bool:
        return self.depth > 0

    def unclosed(self) -> str | None:
        return "parenthesis" if self.depth else None


class _MyBody:
    """MySQL's compound statements (CREATE PROCEDURE, FUNCTION, TRIGGER, EVENT), as the
    server reads a file sent whole (golang-migrate's and dbmate's multi-statement
    mode): BEGIN ... END, with IF ... END IF, CASE ... END [CASE], LOOP, WHILE and
    REPEAT ... END LOOP/WHILE/REPEAT nested inside, kept on a stack. IF, LOOP, WHILE
    and REPEAT open a block only where a statement starts (after BEGIN, THEN, ELSE,
    DO, a ';', a label, or a trigger's FOR EACH ROW): elsewhere they are IF() and
    REPEAT() calls or IF EXISTS. CASE always opens (a CASE expression ends with END
    too), but inside a CASE expression THEN and ELSE start no statement. A body
    without BEGIN (RETURN expr) ends at its first ';'.

    pending: the statement's first six words ended inside CREATE [OR REPLACE]
    [DEFINER = user@host] [AGGREGATE]; the next words decide (self.prefix).
    """

    __slots__ = ("stack", "slot", "after_end", "opened", "label", "prev", "prev2", "pending",
                 "prefix", "dead")

    _SLOT_AFTER = frozenset(("BEGIN", "THEN", "ELSE", "DO", "REPEAT", "LOOP"))
    _BLOCKS = frozenset(("IF", "LOOP", "WHILE", "REPEAT"))
    _ENDED = frozenset(("IF", "CASE", "LOOP", "WHILE", "REPEAT"))
    _ORDER = ("FOLLOWS", "PRECEDES")

    def __init__(self, prefix: list[str] | None = None) -> None:
        self.stack: list[str] = []  # the open blocks; "CASE(" is a CASE expression
        self.slot, self.after_end, self.opened = False, False, -1
        self.label = False  # the word before was at a statement's start (a label?)
        self.prev = self.prev2 = ""
        self.pending, self.prefix, self.dead = prefix is not None, prefix, False

    def feed(self, scan: re.Pattern[str], sql: str, a: int, b: int, skip: int) -> None:
        if self.dead:
            return
        stack = self.stack
        for m in scan.finditer(sql, a, b):
            if m.lastgroup != "w":
                continue
            if skip:
                skip -= 1
                continue
            word = m.group().upper()
            if self.pending:  # still in CREATE ... DEFINER = user@host
                self.prefix.append(word)
                k = _mysql_prefix(self.prefix)
                if k is None:
                    self.dead = True
                    return
                self.pending = k < 0
                continue
            if self.after_end:  # END IF, END CASE, END LOOP...: the END closed it
                self.after_end = False
                if word in self._ENDED:
                    self.slot = self.label = False
                    self.prev2, self.prev = self.prev, word
                    continue
            at_slot = self.slot or self.label
            if word == "END" and stack:
                stack.pop()
                self.after_end = True
            elif word == "BEGIN" or word == "CASE" or (word in self._BLOCKS and at_slot):
                if not stack:
                    self.opened = m.start()
                stack.append(word if at_slot or word == "BEGIN" else "CASE(")
            # a label (``name:`` where a statement starts) leaves the slot open
            after = sql[m.end():m.end() + 8].lstrip(_WS)
            self.label = self.slot and after[:1] == ":" and after[:2] != ":="
            if word in self._SLOT_AFTER:
                # THEN/ELSE of a CASE expression, and the DO statement, start no statement
                self.slot = not ((word == "THEN" or word == "ELSE") and stack
                                 and stack[-1] == "CASE(") and not (word == "DO" and at_slot)
            else:  # FOR EACH ROW [FOLLOWS|PRECEDES other]: a trigger's statement
                prev = self.prev
                self.slot = (word == "ROW" and prev == "EACH") or (
                    word in self._ORDER and prev == "ROW") or (
                    prev in self._ORDER and self.prev2 == "ROW")
            self.prev2, self.prev = self.prev, word

    def semi(self) -> bool:
        self.slot, self.label, self.after_end = True, False, False
        return bool(self.stack) and not self.dead

    def unclosed(self) -> str | None:
        return "BEGIN ... END block" if self.stack and not self.dead else None


_Tracker = _Body | _RuleActions | _MyBody
_Found = tuple[int, _Tracker] | None  # index of the deciding word, tracker


def _classify_pg(words: list[str]) -> _Found:
    # CREATE [OR REPLACE] FUNCTION|PROCEDURE is the prefix psql's lexer
    # (psqlscan.l) looks for before it tracks BEGIN ... END.
    k = 3 if words[1:3] == ["OR", "REPLACE"] else 1
    head = words[k : k + 1]
    if head == ["FUNCTION"] or head == ["PROCEDURE"]:
        return k, _Body(atomic=True)
    return (k, _RuleActions()) if head == ["RULE"] else None


_MY_KINDS = frozenset(("PROCEDURE", "FUNCTION", "TRIGGER", "EVENT"))
_MORE = -1  # _mysql_prefix: the words so far do not decide


def _mysql_prefix(words: list[str]) -> int:
    """In CREATE [OR REPLACE] [DEFINER = user[@host]] [AGGREGATE] PROCEDURE|FUNCTION|
    TRIGGER|EVENT, the index of the deciding word; None if *words* start no such
    statement, _MORE if they end before it. A quoted user or host (`root`@`localhost`,
    as dumps write it) has no bare words; a bare one has one each."""
    n, i = len(words), 1
    if i < n and words[i] == "OR":
        if i + 1 >= n:
            return _MORE
        if words[i + 1] != "REPLACE":
            return None
        i += 2
    if i < n and words[i] == "DEFINER":
        i += 1
        if i >= n:
            return _MORE
        if words[i] in ("CURRENT_USER", "CURRENT_ROLE"):
            i += 1
        elif words[i] not in _MY_KINDS and words[i] != "AGGREGATE":
            if words[i] == "VIEW":  # DEFINER = `u`@`h` VIEW function AS ...
                return None
            i += 1  # a bare user name; a bare host may follow
            if i >= n:
                return _MORE
            if words[i] not in _MY_KINDS and words[i] != "AGGREGATE":
                i += 1
    if i < n and words[i] == "AGGREGATE":
        i += 1
    if i >= n:
        return _MORE
    return i if words[i] in _MY_KINDS else None


def _classify_mysql(words: list[str]) -> _Found:
    k = _mysql_prefix(words)
    if k is None:
        return None
    if k == _MORE:  # e.g. CREATE OR REPLACE DEFINER = admin@localhost PROCEDURE
        return len(words) - 1, _MyBody(prefix=list(words))
    return k, _MyBody()


def _classify_sqlite(words: list[str]) -> _Found:
    # CREATE [TEMP|TEMPORARY] TRIGGER, as in sqlite3_complete().
    k = 2 if words[1:2] == ["TEMP"] or words[1:2] == ["TEMPORARY"] else 1
    return (k, _Body(atomic=False)) if words[k : k + 1] == ["TRIGGER"] else None


def _classify_nothing(words: list[str]) -> _Found:
    return None


def _mysql_dialect(delimiter: str) -> _Dialect:
    """Minimal MySQL: '#' comments, "--" needs a space after it, backslash escapes in
    both kinds of string, and /*! ... */ is code, not a comment. Statements end at
    *delimiter*: ';' as the server reads a file (compound statements keep theirs), or
    the one a DELIMITER command set, where ';' is plain code and no body is tracked."""
    specials, plain = r"\-/'\"`;#", r"-(?!-(?:\s|\Z))|/(?!\*)"
    classify: Callable[[list[str]], _Found] = _classify_mysql
    if delimiter != ";":
        escaped = re.escape(delimiter)
        first = re.escape(delimiter[0])
        new = delimiter[0] not in "-/'\"`;#"
        specials += first if new else ""
        # plain code where it stands, unless the delimiter starts there
        plain = f"(?!{escaped})(?:{plain}|;{'|' + first if new else ''})"
        classify = _classify_nothing
    return _dialect(
        specials=specials,
        plain=plain,
        quoted=rf"{_ESQ}|{_EDQ}|{_BQ}|/\*!.*?\*/",
        prefix="",
        classify=classify,
        semi=re.escape(delimiter),
        comment=r"(?:--(?=\s|\Z)|\#)[^\n]*|/\*.*?\*/",
        bad_string="'",
        bad_double_quoted_string='"',
        bad_backquoted_identifier="`",
        bad_block_comment=r"/\*",
    )


# Each dialect's patterns are compiled on first use: a run uses one of them.
_SPECS = {
    "postgresql": lambda: _dialect(
        specials=r"\-/'\";$",
        # $ is plain inside an identifier (a$b) or when it opens no $tag$
        # ($1 is a parameter). See docs: 4.1.2.4 Dollar-Quoted Strings.
        plain=rf"-(?!-)|/(?!\*)|(?<={_IDC})\$|\$(?!(?:{_PG_TAG})?\$)",
        # Backslash escapes only in E'...' (a lone E before the quote): with
        # standard_conforming_strings on, the default since 9.1, 'C:\' is
        # complete. U&'', B'', X'' and N'' lex like '' (docs: 4.1.2.1-4.1.2.3).
        quoted=f"{_E_PREFIXED}{_ESQ}|{_NOT_E_PREFIXED}{_SQ}|{_DQ}",
        prefix="[EeBbXxNn](?=')|[Uu]&(?=['\"])",
        classify=_classify_pg,
        semi=";",
        # A line comment ends at CR or LF (scan.l: non_newline).
        comment=r"--[^\r\n]*",
        nest=r"/\*",  # block comments nest in PostgreSQL: see _end_of_pg_comment
        dollar=rf"\$(?:{_PG_TAG})?\$",  # not after an identifier character: see plain
        bad_escape_string=f"{_E_PREFIXED}'",
        bad_string="'",
        bad_quoted_identifier='"',
    ),
    "sqlite": lambda: _dialect(
        specials=r"\-/'\"`\[;",
        plain=r"-(?!-)|/(?!\*)",
        quoted=rf"{_SQ}|{_DQ}|{_BQ}|\[[^\]]*\]",
        prefix="[Xx](?=')",  # blob literal
        classify=_classify_sqlite,
        semi=";",
        # Block comments do not nest in SQLite (docs: lang_comment.html).
        comment=r"--[^\n]*|/\*.*?\*/",
        bad_string="'",
        bad_quoted_identifier='"',
        bad_backquoted_identifier="`",
        bad_bracketed_identifier=r"\[",
        bad_block_comment=r"/\*",
    ),
    "mysql": lambda: _mysql_dialect(";"),
}
_DIALECTS = {}


def _compiled(dialect):
    if dialect not in _DIALECTS:
        _DIALECTS[dialect] = _SPECS[dialect]()
    return _DIALECTS[dialect]


def _line_of(sql: str, pos: int) -> int:
    return sql.count("\n", 0, pos) + 1


def _end_of_pg_comment(sql: str, pos: int) -> int:
    """End of the (possibly nested) PostgreSQL block comment opened at pos."""
    depth = 0
    for m in _PG_COMMENT_PART.finditer(sql, pos):
        depth += 1 if m.group() == "/*" else -1
        if depth == 0:
            return m.end()
    raise SplitError(f"unterminated block comment opened at line {_line_of(sql, pos)}")


def _patterns(dialect: str):
    """The dialect's matchers: (tokens, opening, first words, scan, classify)."""
    try:
        tokens, opening, first_words, scan, classify = _compiled(dialect)
    except KeyError:
        raise ValueError(
            f"unknown SQL dialect {dialect!r}, expected one of {sorted(_SPECS)}") from None
    return tokens.match, opening.match, first_words.match, scan, classify


def split(sql: str, dialect: str) -> list[Statement]:
    """Split *sql* into statements; dialect is "postgresql", "sqlite" or "mysql"."""
    if dialect == "mysql" and _DELIMITER_COMMAND.search(sql):
        return _split_delimited(sql)
    new_statement = tuple.__new__  # half the cost of NamedTuple's Python-level __new__
    out: list[Statement] = []
    line, line_pos = 1, 0
    for start, code_end, words in _statements(sql, *_patterns(dialect)):
        line += sql.count("\n", line_pos, start)
        line_pos = start
        text = sql[start:code_end].rstrip(_WS)
        out.append(new_statement(Statement, (text, line, tuple(words))))
    return out


# The mysql client's DELIMITER command: the rest of the line names the new terminator.
_DELIMITER_COMMAND = re.compile(r"^\ufeff?[ \t]*DELIMITER[ \t]+(\S+)[^\n]*", re.I | re.M)
# What can hide a DELIMITER line: strings, backquoted names, comments (/*! ... */ too,
# whose DELIMITER would be code, not a command); group q when complete.
_MY_HIDING = re.compile(
    rf"(?P<q>{_ESQ}|{_EDQ}|{_BQ}|/\*.*?\*/|(?:--(?=\s|\Z)|\#)[^\n]*)|['\"`]|/\*", re.S)
_DELIMITED: dict[str, _Dialect] = {}  # a dialect per custom delimiter


def _commands(sql: str) -> list[re.Match[str]]:
    """The DELIMITER lines of *sql* that stand outside strings and comments."""
    found, pos, hiding = [], 0, _MY_HIDING.search
    for command in _DELIMITER_COMMAND.finditer(sql):
        at = command.start()
        while pos <= at:
            m = hiding(sql, pos)
            if m is None or m.start() >= at:
                found.append(command)
                pos = command.end()
            elif m.lastgroup is None:  # never closed: the split reports it
                return found
            else:
                pos = m.end()
    return found


def _split_delimited(sql: str) -> list[Statement]:
    """MySQL text with DELIMITER commands, as the mysql client cuts it: each DELIMITER
    line (outside strings and comments) changes the terminator for what follows and is
    no statement itself. Where the terminator is ';', statements are read as without
    any DELIMITER (compound statements keep their inner ';'); elsewhere they end at the
    terminator, and ';' is plain code."""
    out: list[Statement] = []
    line, line_pos = 1, 0
    begin, delimiter = (1 if sql.startswith("\ufeff") else 0), ";"
    for command in [*_commands(sql), None]:
        end = len(sql) if command is None else command.start()
        if delimiter == ";":
            dialect = _compiled("mysql")
        else:
            dialect = _DELIMITED.get(delimiter)
            if dialect is None:
                if len(_DELIMITED) > 64:
                    _DELIMITED.clear()
                dialect = _DELIMITED[delimiter] = _mysql_dialect(delimiter)
        wordy = delimiter[0].isalnum() or delimiter[0] in "_$"
        for start, code_end, words in _statements(
                sql, partial(dialect.tokens.match, endpos=end),
                partial(dialect.opening.match, endpos=end),
                partial(dialect.first_words.match, endpos=end),
                dialect.scan, dialect.classify, begin):
            line += sql.count("\n", line_pos, start)
            line_pos = start
            text = sql[start:code_end].rstrip(_WS)
            if wordy:  # the custom dialect's words took the delimiter's first letter
                words = filter(None, _compiled("mysql").first_words.match(
                    text).group(*_WORD_GROUPS))
                words = map(str.upper, words)
            out.append(Statement(text, line, tuple(words)))
        if command is not None:
            begin, delimiter = command.end(), command.group(1)
    return out


def _statements(sql, match, match_opening, words_at, scan, classify, pos=-1):
    """Each statement of *sql* as (start, code_end, words): its first character, the
    end of its code (without a trailing comment), its first six words. A generator:
    a call per statement would cost split() a few percent. pos: where to start (by
    default 0, or 1 after a byte order mark)."""
    if pos < 0:
        pos = 1 if sql.startswith("\ufeff") else 0  # everything before pos is consumed
    start, code_end, words, body = -1, 0, [], None  # body: a tracker of inner ';'
    while True:
        # Never None: the skip stops only where one of the tokens can start.
        m = match_opening(sql, pos) if start < 0 else match(sql, pos)
        kind = m.lastgroup
        p, end = m.span(kind)
        if (code := m.end(1)) != p:  # code before the token
            if start < 0:
                start, found = code, m.group(*_WORD_GROUPS)
            else:  # the statement's first words may have been cut by a token
                found = words_at(sql, code).group(*_WORD_GROUPS) if len(words) < 6 else (None,)
            code_end = p
            body = _take_code(sql, code, p, found, words, body, scan, classify)
        if kind == "semi":
            if body is not None and body.semi():
                code_end = end
            elif start >= 0:  # (start < 0: no code, so no words and no body yet)
                yield start, code_end, words
                start, words, body = -1, [], None
        elif kind == "dollar":
            code_end = end = _end_of_dollar_quote(sql, m.group(kind), p, end)
            start = p if start < 0 else start
        elif kind == "eof":
            _check_closed(sql, body)
            if start >= 0:
                yield start, code_end, words
            return
        elif kind != "comment":
            end = _end_of_other(sql, kind, p)
        pos = end


def _take_code(sql, code, p, found, words, body, scan, classify):
    """Note the code between *code* and *p*: its words among the statement's
    first six (*found*), and its BEGIN ... END or parentheses for the tracker,
    which a CREATE FUNCTION, RULE or TRIGGER gets here. Returns the tracker."""
    skip = 0
    if found[0] is not None:
        had = len(words)
        words += map(str.upper, filter(None, found[: 6 - had]))
        if body is None and had < 4 and words[0] == "CREATE":
            decided = classify(words)
            if decided is not None:
                k, body = decided
                skip = k + 1 - had  # the tracker starts after word k
    if body is not None:
        body.feed(scan, sql, code, p, skip)
    return body


def _end_of_dollar_quote(sql: str, tag: str, p: int, end: int) -> int:
    """End of the dollar-quoted string whose opening *tag* spans p to end."""
    close = sql.find(tag, end)
    if close < 0:
        raise SplitError(
            f"unterminated dollar-quoted string {tag} opened at line {_line_of(sql, p)}")
    return close + len(tag)


def _check_closed(sql: str, body: _Tracker | None) -> None:
    """At the end of input: fail if a BEGIN ... END body or parenthesis is open."""
    what = body.unclosed() if body is not None else None
    if what is not None:
        raise SplitError(f"unterminated {what} opened at line {_line_of(sql, body.opened)}")


def _end_of_other(sql: str, kind: str, p: int) -> int:
    """End of a nested PostgreSQL block comment; any other token left is a
    bad_<what>: an opener that is never closed."""
    if kind == "nest":
        return _end_of_pg_comment(sql, p)
    what = kind[4:].replace("_", " ")
    raise SplitError(f"unterminated {what} opened at line {_line_of(sql, p)}")
