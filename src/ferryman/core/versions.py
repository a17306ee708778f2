"""Versions that are not numbers: a name-ordered folder's names, Flyway's dotted versions.

Most formats number their migrations (ferryman, golang-migrate, dbmate, goose): the
version is an int. A folder run in file-name order identifies a migration by its name
(``0002_a``), and Flyway by a dotted version compared part by part (``1.10`` after
``1.9``, ``1`` = ``1.0``). Both are strings here (so they print and go into JSON as
themselves) that order as their tool orders them.

In ferryman's tables such a version is stored twice: as ``label`` (``name:0002_a``,
``flyway:17.1``: the kind and the text, from which ``decode`` makes the version again)
and, in the BIGINT ``version`` column that keys the rows, as a stable 63-bit number
derived from the label (``storage``), which no one needs to read.
"""

import hashlib


class NameKey(str):
    """A migration of a name-ordered folder: ordered as text (code points, which is
    the byte order of its UTF-8)."""

    __slots__ = ()
    kind = "name"


class FlywayKey(str):
    """A Flyway version: the text Flyway stores, ordered and compared as Flyway does
    (core/formats.py FlywayVersion)."""

    kind = "flyway"

    def __new__(cls, text):
        from .formats import FlywayVersion

        parsed = FlywayVersion(str(text))  # ValueError for what Flyway refuses
        key = super().__new__(cls, parsed.text)
        key.parts = parsed.parts
        return key

    def __hash__(self):
        return hash(self.parts)

    def __eq__(self, other):
        return self.parts == other.parts if isinstance(other, FlywayKey) else NotImplemented

    def __ne__(self, other):
        return self.parts != other.parts if isinstance(other, FlywayKey) else NotImplemented

    def __lt__(self, other):
        return self.parts < other.parts if isinstance(other, FlywayKey) else NotImplemented

    def __le__(self, other):
        return self.parts <= other.parts if isinstance(other, FlywayKey) else NotImplemented

    def __gt__(self, other):
        return self.parts > other.parts if isinstance(other, FlywayKey) else NotImplemented

    def __ge__(self, other):
        return self.parts >= other.parts if isinstance(other, FlywayKey) else NotImplemented


KINDS = {"name": NameKey, "flyway": FlywayKey}


def label(version):
    """What the ``label`` column holds: None for a number, else ``kind:text``."""
    if isinstance(version, (NameKey, FlywayKey)):
        return f"{version.kind}:{version}"
    return None


def storage(version):
    """What the BIGINT ``version`` column holds: the number, or for a keyed version a
    stable 63-bit number derived from its label."""
    text = label(version)
    if text is None:
        return version
    return int.from_bytes(hashlib.sha256(text.encode("utf-8")).digest()[:8], "big") >> 1


def decode(number, text):
    """The version a row of ferryman's tables holds (``version``, ``label``)."""
    if not text:
        return number
    kind, _, value = str(text).partition(":")
    maker = KINDS.get(kind)
    if maker is None:
        return number
    try:
        return maker(value)
    except ValueError:
        return NameKey(value)


def parse(text, kind):
    """The version ``text`` names in a folder of ``kind`` ("name" or "flyway");
    ValueError when it cannot be one."""
    return KINDS[kind](text)
