"""Database URLs: parse them, and show them without their password.

Accepted forms::

    postgresql://user[:password]@host[:port]/dbname[?sslmode=require&...]
    postgres://...                      (the same)
    sqlite:///relative/path.db          (SQLAlchemy style: three slashes, relative)
    sqlite:////absolute/path.db         (four slashes, absolute)
    sqlite:relative.db | sqlite:/abs.db (dbmate style)
    sqlite3://relative.db               (golang-migrate style)
    sqlite:///:memory:

On the path of ``ferryman status``: only the standard library's light modules.
"""

import os

from .errors import ConfigError, register_secret

SCHEMES = {
    "postgresql": "postgresql", "postgres": "postgresql", "pgsql": "postgresql",
    "sqlite": "sqlite", "sqlite3": "sqlite",
    "mysql": "mysql", "mariadb": "mysql",
}


class DatabaseURL:
    """A parsed database URL. ``str()`` and ``repr()`` never show the password."""

    __slots__ = ("dialect", "user", "password", "host", "port", "database", "path", "query")

    def __init__(self, dialect, *, user=None, password=None, host=None, port=None,
                 database=None, path=None, query=None):
        self.dialect = dialect
        self.user = user
        self.password = password
        self.host = host
        self.port = port
        self.database = database
        self.path = path
        self.query = dict(query or {})
        register_secret(password)
        register_secret(self.query.get("password"))

    @property
    def is_memory(self):
        return self.dialect == "sqlite" and self.path in (":memory:", "")

    def redacted(self):
        """The URL as it may be shown anywhere: the password replaced by ``***``."""
        if self.dialect == "sqlite":
            return f"sqlite:///{self.path}"
        auth = ""
        if self.user:
            auth = _quote(self.user) + (":***" if self.password else "") + "@"
        elif self.password:
            auth = ":***@"
        host = self.host or ""
        if host and ":" in host and not host.startswith("/"):
            host = f"[{host}]"
        port = f":{self.port}" if self.port else ""
        query = "&".join(
            f"{k}={'***' if k == 'password' else v}" for k, v in self.query.items())
        return f"{self.dialect}://{auth}{host}{port}/{self.database or ''}" + (
            f"?{query}" if query else "")

    def with_path_base(self, base_dir):
        """A copy whose relative SQLite path is resolved against ``base_dir``."""
        if self.dialect != "sqlite" or self.is_memory or os.path.isabs(self.path):
            return self
        return DatabaseURL("sqlite", path=os.path.normpath(os.path.join(base_dir, self.path)),
                           query=self.query)

    def __str__(self):
        return self.redacted()

    def __repr__(self):
        return f"DatabaseURL({self.redacted()!r})"

    def __eq__(self, other):
        return isinstance(other, DatabaseURL) and all(
            getattr(self, s) == getattr(other, s) for s in self.__slots__)

    def __hash__(self):
        return hash(self.redacted())


def parse_url(text):
    """Parse a database URL; raise ConfigError (naming the redacted URL) when it is bad."""
    if isinstance(text, DatabaseURL):
        return text
    text = (text or "").strip()
    scheme, sep, rest = text.partition(":")
    dialect = SCHEMES.get(scheme.lower().split("+", 1)[0]) if sep else None
    if dialect is None:
        # A text without a scheme is not echoed: it may be the password itself, set
        # in the wrong variable.
        shown = f" {_shown(text)!r}" if sep else ""
        raise ConfigError(
            f"database URL{shown} has {'an unknown' if sep else 'no'} scheme; use "
            "postgresql://... or sqlite:///path.db",
            hint="set FERRYMAN_DATABASE_URL, --database-url, or [database] url in ferryman.toml")
    if dialect == "sqlite":
        return _refuse_nul(_parse_sqlite(rest))
    return _refuse_nul(_parse_server(dialect, rest, text))


def _refuse_nul(url):
    """A NUL, raw or as %00, in any part: C APIs cut the text there, so SQLite cannot
    open the path (exit 70 before) and libpq would take the user ``u%00x`` as ``u``."""
    parts = [url.user, url.password, url.host, url.database, url.path,
             *url.query, *url.query.values()]
    if any(part and "\x00" in part for part in parts):
        shown = url.redacted().replace("\x00", "%00")
        raise ConfigError(f"database URL {shown!r} holds a NUL character (%00), which no "
                          "part of a URL may")
    return url


def _parse_sqlite(rest):
    rest, _, query = rest.partition("?")
    if rest.startswith("///"):
        path = rest[3:]
    elif rest.startswith("//"):
        path = rest[2:]
    else:
        path = rest
    path = _unquote(path)
    if path == "":
        # An empty path is a typo far more often than a wish for a database that
        # vanishes with the process; that must be asked for by name.
        raise ConfigError("the SQLite URL has no file path; write sqlite:///app.db "
                          "(or sqlite:///:memory: for an in-memory database)")
    return DatabaseURL("sqlite", path=path, query=_parse_query(query))


def _parse_server(dialect, rest, original):
    if not rest.startswith("//"):
        raise ConfigError(f"database URL {_shown(original)!r} must look like "
                          f"{dialect}://user@host:port/dbname")
    rest = rest[2:]
    _refuse_ambiguous_credentials(rest, original)
    rest, _, query = rest.partition("?")
    netloc, _, database = rest.partition("/")
    auth, at, hostport = netloc.rpartition("@")
    user = password = None
    if at:
        user, colon, password = auth.partition(":")
        user = _unquote(user) or None
        password = _unquote(password) if colon else None
    host, port = _split_hostport(hostport, original)
    return DatabaseURL(dialect, user=user, password=password, host=host or None, port=port,
                       database=_unquote(database) or None, query=_parse_query(query))


def _refuse_ambiguous_credentials(rest, original):
    """A password written raw may hold / ? or #, which end a URL's host part
    (RFC 3986, section 3.2): ``postgresql://u:ab/cd@host/db`` would be read as host
    ``u``, port ``ab``, database ``cd@host/db``, and a part of the password would be
    shown as a database name. So an @ after the first / ? or # is refused, with the
    URL shown through _shown; written %2F, %3F, %23 and %40 these
    characters are taken."""
    at = rest.rfind("@")
    if at > 0 and any(c in rest[:at] for c in "/?#"):
        raise ConfigError(
            f"database URL {_shown(original)!r} has an @ after a / ? or #: a password (or "
            "user) holding those characters must have them percent-encoded",
            hint="write / as %2F, ? as %3F, # as %23 and @ as %40 in the user and password; "
                 "or leave the password out of the URL and set FERRYMAN_PASSWORD")


def _split_hostport(hostport, original):
    if hostport.startswith("["):
        if "]" not in hostport:
            raise ConfigError(f"database URL {_shown(original)!r} has an unclosed [ in its host")
        host, _, tail = hostport[1:].partition("]")
        port = tail[1:] if tail.startswith(":") else ""
    else:
        host, _, port = hostport.partition(":")
    if port and not port.isdigit():
        # postgresql://user:password (no host) reads the password as the port: hide it
        shown = _shown(original).replace(f":{port}", ":***", 1)
        raise ConfigError(f"database URL {shown!r} has a port that is not a number")
    return _unquote(host), int(port) if port else None


def _parse_query(query):
    pairs = {}
    for item in query.split("&") if query else ():
        key, _, value = item.partition("=")
        if key:
            pairs[_unquote(key)] = _unquote(value)
    return pairs


def _unquote(text):
    """Percent-decoding without importing urllib (kept off the start-up path)."""
    if "%" not in text:
        return text
    out = bytearray()
    i = 0
    raw = text.encode()
    while i < len(raw):
        if raw[i] == 0x25 and _is_hex(raw[i + 1:i + 3]):
            out.append(int(raw[i + 1:i + 3], 16))
            i += 3
        else:
            out.append(raw[i])
            i += 1
    return out.decode("utf-8", "replace")


def _is_hex(pair):
    return len(pair) == 2 and all(c in b"0123456789abcdefABCDEF" for c in pair)


def _quote(text):
    return "".join(c if c.isalnum() or c in "-._~" else f"%{ord(c):02X}" for c in text)


def holds_password(text):
    """Whether a URL's text holds a password, however malformed: a ``:`` between the
    scheme and the last @, or a ``password=`` parameter."""
    if text.lower().startswith("sqlite"):
        return False  # a path, which may hold : and @
    head, at, tail = text.rpartition("@")
    scheme, sep, credentials = head.partition("://")
    if not sep:
        credentials = head.partition(":")[2]
    query = (tail if at else text).partition("?")[2]
    return bool(at and ":" in credentials) or any(
        item.partition("=")[0] == "password" for item in query.split("&"))


def _shown(text):
    """A URL as it may appear in an error, however malformed: everything between the
    scheme and the LAST @ is replaced by ``***`` (user, password, and whatever a raw
    password holds: @ : / ? #), and so is a ``password=`` parameter. Computed before
    any parsing, so no parse can go wrong first. The hidden parts
    are registered as secrets, so no later message shows them either."""
    head, at, tail = text.rpartition("@")
    if at:
        scheme, sep, credentials = head.partition("://")
        if not sep:  # postgresql:u:pw@h, postgresql:/u:pw@h, postgresql//u:pw@h, u:pw@h
            scheme, sep, credentials = head.partition(":")
        if not sep:
            scheme, credentials = "", head
        register_secret(credentials)
        register_secret(credentials.partition(":")[2])
        text = f"{scheme}{sep}***@{tail}"
        base, q, query = tail.partition("?")
        prefix = f"{scheme}{sep}***@{base}"
    else:
        base, q, query = text.partition("?")
        prefix = base
    if not q:
        return text
    pairs = [item.partition("=") for item in query.split("&")]
    for key, _, value in pairs:
        if key == "password":
            register_secret(value)
    query = "&".join(k + e + ("***" if k == "password" else v) for k, e, v in pairs)
    return f"{prefix}{q}{query}"


def build_url(*, dialect="postgresql", host=None, port=None, user=None, database=None,
              ssl=None):
    """The URL for the connection flags (--host --port --user --database --ssl)."""
    query = {"sslmode": ssl} if ssl else {}
    if dialect == "sqlite":
        return DatabaseURL("sqlite", path=database or ":memory:")
    return DatabaseURL(dialect, user=user, host=host, port=int(port) if port else None,
                       database=database, query=query)
