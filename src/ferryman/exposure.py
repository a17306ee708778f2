"""Warnings about a password that other users of this host can read.

A command line is readable by every user of the host (``ps``, /proc/PID/cmdline) and
lands in the shell's history: a password in ``--database-url`` is exposed, though
ferryman never prints it. A password file that the group or others may read exposes
it the same way (libpq ignores such a ~/.pgpass outright; ferryman warns and goes on,
as a refusal would stop deployments that work today). Each warning is printed once
per process, on stderr, and never holds the password.

On the path of ``ferryman status``: only ``os`` and ``sys``.
"""

import os
import sys

_said = set()


def warn_once(text):
    """Print ``ferryman: warning: TEXT`` on stderr, once per process."""
    if text in _said:
        return
    _said.add(text)
    print(f"ferryman: warning: {text}", file=sys.stderr)


def check_command_line_url(text):
    """Warn when a URL given as a command-line option holds a password."""
    from .url import holds_password

    if text and holds_password(text):
        warn_once("the database URL on the command line holds a password, which every user "
                  "of this host can read (ps) and the shell keeps in its history; pass the "
                  "URL without it and set FERRYMAN_PASSWORD or --password-file FILE (mode "
                  "600)")


def check_password_file(path):
    """Warn when the password file ``path`` is readable by its group or by others."""
    try:
        mode = os.stat(path).st_mode  # a link's target: what a reader gets
    except OSError:
        return  # reading it reports the problem
    if mode & 0o044:
        warn_once(f"the password file {path} is readable by "
                  f"{'others' if mode & 0o004 else 'its group'} (mode {mode & 0o777:03o}); "
                  f"make it readable by its owner only: chmod 600 {_quoted(path)}")


def _quoted(path):
    import shlex

    return shlex.quote(path)
