"""The HTTP stack stays in ferryman.http and `ferryman serve`: off the path of `import
ferryman` and `ferryman status`, and never a dependency of the library's layers."""

import ast
import os
import subprocess
import sys

import ferryman

PACKAGE_DIR = os.path.dirname(os.path.abspath(ferryman.__file__))
WEB = ("starlette", "uvicorn", "fastapi", "httpx")


def web_imports():
    """{(module path, enclosing function or None)} of every import of the HTTP stack."""
    found = set()
    for folder, _dirs, files in os.walk(PACKAGE_DIR):
        for name in files:
            if not name.endswith(".py"):
                continue
            path = os.path.join(folder, name)
            with open(path, encoding="utf-8") as handle:
                tree = ast.parse(handle.read())
            found |= {(os.path.relpath(path, PACKAGE_DIR), function)
                      for node, function in _walk(tree, None) if _imports_web(node)}
    return found


def _walk(node, function):
    for child in ast.iter_child_nodes(node):
        inside = child.name if isinstance(child, ast.FunctionDef) else function
        yield child, inside
        yield from _walk(child, inside)


def _imports_web(node):
    if isinstance(node, ast.Import):
        return any(alias.name.split(".")[0] in WEB for alias in node.names)
    if isinstance(node, ast.ImportFrom):
        return not node.level and (node.module or "").split(".")[0] in WEB
    return False


def test_only_the_http_package_and_the_serve_command_import_the_http_stack():
    outside = {(path, function) for path, function in web_imports()
               if not path.startswith("http" + os.sep)}
    assert outside == {(os.path.join("cli", "commands.py"), "cmd_serve")}
    assert any(path.startswith("http" + os.sep) for path, _ in web_imports())  # it looks


def loaded_after(code):
    script = f"{code}\nimport sys\nprint(*sorted(m for m in {WEB!r} if m in sys.modules))"
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          check=True)
    return done.stdout.split()


def test_import_ferryman_and_the_cli_do_not_load_the_http_stack():
    assert loaded_after("import ferryman, ferryman.cli, ferryman.cli.commands, "
                        "ferryman.cli.fast, ferryman.api") == []


def test_ferryman_status_does_not_load_the_http_stack(tmp_path):
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "1_a.up.sql").write_text("CREATE TABLE a (id INTEGER);")
    code = ("import io, contextlib\nfrom ferryman.cli import main\n"
            "with contextlib.redirect_stdout(io.StringIO()):\n"
            f"    assert main(['status', '--database-url', 'sqlite:///{tmp_path}/a.db', "
            f"'-m', '{tmp_path}/m']) == 0")
    assert loaded_after(code) == []


def test_the_check_above_can_fail():
    assert "starlette" in loaded_after("import ferryman.http")
