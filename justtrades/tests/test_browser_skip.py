"""Without Chromium the suite still collects, and every browser test is skipped with its reason."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest
from django.conf import settings

pytestmark = pytest.mark.slow


def test_without_chromium_every_browser_test_is_skipped_with_the_reason(tmp_path):
    missing = tmp_path / "no-chromium-here"
    env = dict(os.environ)
    env.update(
        JT_CHROMIUM_PATH=str(missing),
        JT_VAR_DIR=str(tmp_path / "var"),  # its own SQLite and secrets: nothing shared
        JT_TESTING="1",
    )
    env.pop("DATABASE_URL", None)
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-m", "browser", "-q", "-rs", "-p", "no:cacheprovider"],
        cwd=settings.BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    out = result.stdout + result.stderr
    assert result.returncode == 0, out
    summary = out.strip().splitlines()[-1]
    skipped = re.search(r"(\d+) skipped", summary)
    assert skipped and int(skipped.group(1)) >= 8, summary
    assert "error" not in summary and "failed" not in summary and "passed" not in summary, summary
    reasons = [line for line in out.splitlines() if line.startswith("SKIPPED")]
    assert reasons, out
    assert all(f"Chromium not found at {missing}" in line for line in reasons), reasons
