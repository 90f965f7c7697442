"""scripts/bootstrap.sh: `make run` installs requirements.txt, `make test` both files, and each
stamp notices a change of exactly the files it was installed from."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
from pathlib import Path

from django.conf import settings

ROOT = Path(settings.BASE_DIR)


def _project(tmp_path: Path) -> Path:
    """A copy of the files bootstrap reads, with a .venv whose python only logs its calls."""
    project = tmp_path / "project"
    (project / "scripts").mkdir(parents=True)
    shutil.copy(ROOT / "scripts" / "bootstrap.sh", project / "scripts" / "bootstrap.sh")
    for name in ("requirements.txt", "requirements-dev.txt", "package.json"):
        shutil.copy(ROOT / name, project / name)
    python = project / ".venv" / "bin" / "python"
    python.parent.mkdir(parents=True)
    python.write_text('#!/bin/sh\necho "$@" >> "$(dirname "$0")/../../calls.log"\n')
    python.chmod(python.stat().st_mode | stat.S_IEXEC)
    return project


def _run(project: Path, *args: str) -> list[str]:
    log = project / "calls.log"
    log.unlink(missing_ok=True)
    # No npm on this PATH: the front-end step is skipped as on a machine without Node.js.
    env = {"PATH": "/usr/bin:/bin", "HOME": os.environ.get("HOME", "/tmp")}
    subprocess.run(
        ["bash", "scripts/bootstrap.sh", *args], cwd=project, env=env, check=True, timeout=60
    )
    if not log.exists():
        return []
    return [line for line in log.read_text().splitlines() if " -r " in f" {line} "]


def test_make_run_installs_the_runtime_set_and_make_test_both(tmp_path):
    project = _project(tmp_path)
    assert _run(project) == ["-m pip install --quiet -r requirements.txt"]
    assert _run(project) == []  # nothing changed
    assert _run(project, "dev") == ["-m pip install --quiet -r requirements-dev.txt"]
    assert _run(project, "dev") == []

    with open(project / "requirements-dev.txt", "a") as f:
        f.write("# a new test tool\n")
    assert _run(project) == []  # the running system does not need it
    assert _run(project, "dev") == ["-m pip install --quiet -r requirements-dev.txt"]

    with open(project / "requirements.txt", "a") as f:
        f.write("# a new runtime package\n")
    assert _run(project, "dev") == [
        "-m pip install --quiet -r requirements.txt",
        "-m pip install --quiet -r requirements-dev.txt",
    ]


def test_the_dev_file_includes_the_runtime_file_and_both_are_pinned():
    dev = (ROOT / "requirements-dev.txt").read_text().splitlines()
    assert "-r requirements.txt" in dev
    for name in ("requirements.txt", "requirements-dev.txt"):
        for line in (ROOT / name).read_text().splitlines():
            if line and not line.startswith(("#", "-r ")):
                assert "==" in line, f"{name}: {line} is not pinned"
    runtime = (ROOT / "requirements.txt").read_text().lower()
    for tool in ("pytest", "ruff", "playwright", "schemathesis", "hypothesis", "factory_boy"):
        assert f"\n{tool}==" not in runtime, f"{tool} is a development tool"
