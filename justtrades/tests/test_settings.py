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
