"""Who this process is: the user in the history, the SQLite lock holder and
PostgreSQL's application_name. The one place that asks.

``getpass.getuser()`` reads LOGNAME, USER, LNAME and USERNAME, then the password
database. A container user without a passwd entry (OpenShift's ``runAsUser: 10001``,
distroless images) has neither: it raises KeyError (OSError from Python 3.13,
https://docs.python.org/3/library/getpass.html#getpass.getuser). Such a user is
named by its uid, ``uid 10001``, which is what ``ps`` shows for it too.

On the path of ``ferryman status``: ``getpass`` and ``socket`` are imported only
when asked.
"""

import os

_user = None


def user_name():
    """This process's user name, or ``uid N`` when the system has no name for it."""
    global _user
    if _user is None:
        import getpass

        try:
            _user = getpass.getuser()
        except (KeyError, OSError, ImportError):  # no passwd entry; no pwd module
            _user = f"uid {os.getuid()}"
    return _user


def user_at_host():
    """``user@host``, as the history records who ran a migration."""
    import socket

    return f"{user_name()}@{socket.gethostname()}"
