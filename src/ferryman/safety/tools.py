"""Running a database's own tools (pg_dump, pg_restore, mariadb-dump, mariadb) for the
backup providers: tied to ferryman, so that they never outlive it."""

import os
import shutil
import subprocess
import sys

# The supervisor of a pg_dump, pg_restore, mariadb-dump or mariadb. It starts the tool,
# and reads a pipe whose only writer is ferryman, who never writes: the read returns
# when ferryman's end closes, which the kernel does when ferryman dies, kill -9
# included; then it kills the tool. It ends as the tool ended (its exit code, or the
# same signal), so ferryman reads the tool's outcome. SIGINT and SIGTERM are passed
# on to the tool. Once the tool has ended it removes the folder named by its second
# argument, if any (the tool's private option file: gone even when ferryman was
# killed). Standard library only, run with -I -S: no site, no environment.
_SUPERVISOR = """\
import os, resource, shutil, signal, subprocess, sys, threading
pipe, cleanup = int(sys.argv[1]), sys.argv[2]
try:
    child = subprocess.Popen(sys.argv[3:])
except OSError as exc:
    print(f"cannot run {sys.argv[3]}: {exc.strerror}", file=sys.stderr)
    if cleanup:
        shutil.rmtree(cleanup, ignore_errors=True)
    sys.exit(127)
for number in (signal.SIGINT, signal.SIGTERM):
    signal.signal(number, lambda number, _frame: child.send_signal(number))
def watch():
    while os.read(pipe, 512):
        pass
    child.kill()
threading.Thread(target=watch, daemon=True).start()
code = child.wait()
if cleanup:
    shutil.rmtree(cleanup, ignore_errors=True)
if code < 0:
    resource.setrlimit(resource.RLIMIT_CORE, (0, resource.getrlimit(resource.RLIMIT_CORE)[1]))
    try:
        signal.signal(-code, signal.SIG_DFL)
    except (OSError, ValueError):
        pass
    os.kill(os.getpid(), -code)
sys.exit(code if code >= 0 else 128 - code)
"""


def run_tied(argv, env, cwd=None, stdin=None, cleanup=None):
    """Run ``argv`` to its end, as ``subprocess.run(capture_output=True, text=True)``
    does, under the supervisor above, so that it cannot outlive ferryman. ``stdin``:
    an open file the tool reads as its standard input (else it inherits ferryman's).
    ``cleanup``: a folder the supervisor removes when the tool has ended (the caller
    removes it too; this covers ferryman's being killed meanwhile).

    Why not PR_SET_PDEATHSIG in ``preexec_fn``: the Python documentation warns that
    preexec_fn is not safe in a process with threads (the coordinator backs up
    services in threads; a restore takes its safety backup in one), and the signal is
    sent when the creating *thread* ends, not the process. The pipe is the process's:
    only its death, or _run_tied leaving early (an interrupt), closes it. Without a
    Python interpreter to run the supervisor (an embedding host), the tool runs bare.
    """
    python = _python()
    if python is None:
        return subprocess.run(argv, capture_output=True, text=True, env=env, cwd=cwd,
                              stdin=stdin)
    read_end, write_end = os.pipe()  # not inheritable: only the supervisor gets read_end
    try:
        process = subprocess.Popen([python, "-I", "-S", "-c", _SUPERVISOR, str(read_end),
                                    cleanup or "", *argv], stdout=subprocess.PIPE,
                                   stderr=subprocess.PIPE, text=True, env=env,
                                   pass_fds=(read_end,), cwd=cwd, stdin=stdin)
    except BaseException:
        os.close(write_end)
        raise
    finally:
        os.close(read_end)
    try:
        out, err = process.communicate()
    finally:
        os.close(write_end)  # early (an interrupt): the supervisor kills the tool now
        process.wait()
    return subprocess.CompletedProcess(argv, process.returncode, out, err)


def _python():
    """An interpreter for the supervisor: this one, unless ferryman runs embedded in a
    host program (uWSGI's sys.executable is uwsgi)."""
    name = os.path.basename(sys.executable or "").lower()
    if name.startswith(("python", "pypy")):
        return sys.executable
    return shutil.which("python3")


_versions = {}


def tool_version(program):
    """``program --version``, asked once per process (on Debian pg_dump is a Perl
    wrapper: each call costs tens of milliseconds)."""
    if program not in _versions:
        _versions[program] = _ask_version(program)
    return _versions[program]


def _ask_version(program):
    try:
        out = subprocess.run([program, "--version"], capture_output=True, text=True).stdout
    except OSError:
        return None
    return out.strip()


def last_line(text):
    lines = [line for line in (text or "").strip().splitlines() if line.strip()]
    return lines[-1] if lines else ""


def run_checked(argv, name, env, error, stdin=None, cleanup=None):
    """Run a tool tied to ferryman (run_tied); raise ``error`` (a FerrymanError class)
    saying how it failed: its exit code or the signal that killed it, with its last
    line of stderr."""
    try:
        result = run_tied(argv, env, stdin=stdin, cleanup=cleanup)
    except OSError as exc:
        raise error(f"cannot run {name}: {exc.strerror}") from exc
    if result.returncode < 0:
        import signal

        signame = signal.Signals(-result.returncode).name
        why = (" (a file size limit or a full disk)" if signame == "SIGXFSZ" else "")
        raise error(f"{name} was killed by {signame}{why}",
                    db_message=last_line(result.stderr))
    if result.returncode != 0:
        raise error(f"{name} failed (exit code {result.returncode}): "
                    f"{last_line(result.stderr)}", db_message=result.stderr.strip())
    return result
