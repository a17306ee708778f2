"""The ``ferryman`` command.

Well-formed command lines are parsed by ``fast.parse`` without importing click, so
a start-up check (``ferryman status``) costs milliseconds; anything else (help,
mistakes) goes to the click application in ``app.py``. Both read ``spec.py``.
"""

import sys

from ..errors import FerrymanError, redact


def main(argv=None):
    """Entry point of the console script; returns the exit code."""
    from .fast import parse

    argv = sys.argv[1:] if argv is None else list(argv)
    parsed = parse(argv)
    if parsed is None:
        from .app import run_click

        return run_click(argv)
    return run(*parsed)


def run(command, params, stdout=None, stderr=None):
    """Run one command with parsed ``params``; print; return the exit code."""
    from .output import Output

    out = Output(json=params.get("json", False), verbose=params.get("verbose", False),
                 quiet=params.get("quiet", False), stdout=stdout, stderr=stderr)
    signals = _catch_signals(command)
    try:
        return _run(command, params, out, signals)
    finally:
        if signals is not None:
            signals.uninstall()


def _catch_signals(command):
    """SIGINT and SIGTERM stop a command that runs migrations cleanly (cli/signals.py);
    the others keep Python's ways (a read-only command just ends)."""
    from .spec import COMMANDS

    spec = COMMANDS.get(command)
    if spec is None or not spec.changes:
        return None
    from .signals import SignalGuard

    guard = SignalGuard()
    return guard if guard.install() else None


def _run(command, params, out, signals):
    from .commands import HANDLERS

    try:
        try:
            code = HANDLERS[command](params, out)
        finally:
            if out.live is not None:  # the live display ends before the last lines
                out.live.stop()
        stopped = signals.error() if signals is not None else None
        if stopped is not None:  # it came as the run ended: the command is cut short
            out.error(stopped)
            return stopped.exit_code
        return code
    except FerrymanError as exc:
        out.error(exc)
        return exc.exit_code
    except BrokenPipeError:  # `ferryman status | head`: the reader left; not an error
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except KeyboardInterrupt as exc:
        if hasattr(exc, "signal_name"):  # StopRequested: SIGINT or SIGTERM, handled
            error = exc.error()
            out.error(error)
            return error.exit_code
        print("ferryman: interrupted", file=out.stderr)
        return 130
    except Exception:  # a bug of ferryman's: say so, without leaking a secret
        import traceback

        print("ferryman: internal error (please report it):\n"
              + redact(traceback.format_exc()), file=out.stderr)
        return 70
