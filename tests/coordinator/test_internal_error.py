"""A bug of ferryman's inside one coordinated service: the other services go on, and
the bug's text and traceback reach the output, the log and the coordinated report."""

import json
from pathlib import Path

import pytest

from ferryman.pipeline import checks

BUG = "unsupported operand type(s) for +: 'int' and 'str'"


@pytest.fixture
def broken_health_check(monkeypatch):
    """Reading service b's health-queries folder hits a bug (a TypeError) in ferryman's
    own code; every other folder reads as before."""
    real = checks.check_files

    def check_files(folder):
        if folder and folder.endswith("b-health"):
            return 1 + folder  # the bug
        return real(folder)

    monkeypatch.setattr(checks, "check_files", check_files)


def write_config(tmp_path):
    lines = [f'reports_dir = "{tmp_path / "reports"}"', f'backup_dir = "{tmp_path / "bk"}"']
    for name in ("a", "b"):
        folder = tmp_path / name
        folder.mkdir()
        (folder / "1_t.up.sql").write_text(f"CREATE TABLE {name}_t (id INTEGER);")
        (tmp_path / f"{name}-health").mkdir()
        lines += [f"[services.{name}]", f'url = "sqlite:///{tmp_path / (name + ".db")}"',
                  f'migrations = "{folder}"', f'health_queries = "{tmp_path / (name + "-health")}"']
    path = tmp_path / "ferryman.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


def test_a_bug_in_one_service_keeps_its_traceback(cli, tmp_path, broken_health_check):
    log = tmp_path / "migration.log"
    result = cli("migrate", "--strategy", "coordinated", "--config", write_config(tmp_path),
                 "--failure-policy", "continue", "--log-file", log)
    assert result.code == 70, result
    assert f"b: internal error (please report it): TypeError: {BUG}" in result.err
    assert "Traceback (most recent call last)" in result.out + result.err
    logged = log.read_text()
    assert "Traceback (most recent call last)" in logged  # one line per event: repr()
    assert "in check_files" in logged and "TypeError: unsupported operand" in logged

    report = json.loads(next((tmp_path / "reports").glob("coordinated-*.json")).read_text())
    services = {s["name"]: s for s in report["services"]}
    assert services["a"]["status"] == "ok" and services["b"]["status"] == "failed"
    error = services["b"]["error"]
    assert error["exit_code"] == 70 and BUG in error["message"]
    assert error["traceback"].startswith("Traceback (most recent call last)")
    assert "in check_files" in error["traceback"] and BUG in error["traceback"]
    html = Path(report["report_paths"]["html"]).read_text()
    assert "<summary>traceback</summary>" in html and "in check_files" in html
    markdown = Path(report["report_paths"]["markdown"]).read_text()
    assert "### b: traceback" in markdown and "in check_files" in markdown
