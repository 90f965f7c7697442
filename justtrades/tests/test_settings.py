"""Production settings refuse to start without real secrets and pass check --deploy."""

import os
import subprocess
import sys

from django.conf import settings

PROD_ENV = {
    "DEBUG": "false",
    "SECRET_KEY": "x" * 20 + "-production-secret-key-with-enough-entropy-0123456789",
    "FIELD_ENCRYPTION_KEY": "q" * 43 + "=",
    "ALLOWED_HOSTS": "trades.example.com",
    "CSRF_TRUSTED_ORIGINS": "https://trades.example.com",
}


def _manage(args, env_overrides, tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in {"SECRET_KEY", "FIELD_ENCRYPTION_KEY"}}
    env.pop("JT_TESTING", None)
    env.update(env_overrides)
    env["JT_VAR_DIR"] = str(tmp_path)
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=settings.BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_check_deploy_is_clean_with_production_settings(tmp_path):
    result = _manage(["check", "--deploy", "--fail-level", "WARNING"], PROD_ENV, tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_production_refuses_to_start_without_a_secret_key(tmp_path):
    env = {k: v for k, v in PROD_ENV.items() if k != "SECRET_KEY"}
    result = _manage(["check"], env, tmp_path)
    assert result.returncode != 0
    assert "SECRET_KEY must be set" in result.stderr
    assert not (tmp_path / "secret_key").exists()


def test_a_malformed_setting_names_the_variable(tmp_path):
    result = _manage(["check"], {"DEBUG": "maybe"}, tmp_path)
    assert result.returncode != 0
    assert "DEBUG='maybe' is not a boolean" in result.stderr


def test_the_embedded_default_generates_its_secrets_once_with_mode_0600(tmp_path):
    result = _manage(["check"], {"DEBUG": "true"}, tmp_path)
    assert result.returncode == 0, result.stderr
    key = tmp_path / "secret_key"
    assert oct(key.stat().st_mode & 0o777) == "0o600"
    first = key.read_text()
    _manage(["check"], {"DEBUG": "true"}, tmp_path)
    assert key.read_text() == first


def test_a_sqlite_database_named_by_url_queues_writers_instead_of_failing(tmp_path):
    """Test runs and operators name SQLite by DATABASE_URL: a writer must still wait its turn
    (30 s, IMMEDIATE) rather than fail with "database is locked" after the driver's 5 s."""
    import sqlite3
    import threading
    import time

    path = tmp_path / "shared.sqlite3"
    holder = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    holder.execute("PRAGMA journal_mode=WAL")
    holder.execute("CREATE TABLE t (n INTEGER)")
    holder.execute("BEGIN IMMEDIATE")
    holder.execute("INSERT INTO t VALUES (1)")
    release = threading.Timer(7.0, lambda: holder.execute("COMMIT"))
    release.start()
    started = time.monotonic()
    script = (
        "import django; django.setup()\n"
        "from django.db import connection, transaction\n"
        "with transaction.atomic():\n"
        "    with connection.cursor() as c:\n"
        "        c.execute('SELECT count(*) FROM t')\n"
        "        c.execute('INSERT INTO t VALUES (2)')\n"
    )
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{path}", "JT_VAR_DIR": str(tmp_path)}
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=settings.BASE_DIR,
        env={**env, "DJANGO_SETTINGS_MODULE": "justtrades.settings"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    release.join()
    assert result.returncode == 0, result.stderr[-2000:]
    assert time.monotonic() - started >= 6.5  # it waited for the holder's commit
    assert [n for (n,) in holder.execute("SELECT n FROM t ORDER BY n")] == [1, 2]
    holder.close()
