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
    from .commands import HANDLERS
    from .output import Output

    out = Output(json=params.get("json", False), verbose=params.get("verbose", False),
                 quiet=params.get("quiet", False), stdout=stdout, stderr=stderr)
    try:
        try:
            return HANDLERS[command](params, out)
        finally:
            if out.live is not None:  # the live display ends before the last lines
                out.live.stop()
    except FerrymanError as exc:
        out.error(exc)
        return exc.exit_code
    except BrokenPipeError:  # `ferryman status | head`: the reader left; not an error
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except KeyboardInterrupt:
        print("ferryman: interrupted", file=out.stderr)
        return 130
    except Exception:  # a bug of ferryman's: say so, without leaking a secret
        import traceback

        print("ferryman: internal error (please report it):\n"
              + redact(traceback.format_exc()), file=out.stderr)
        return 70
