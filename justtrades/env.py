"""Typed readers for environment variables that fail loudly on bad values.

A setting that cannot be parsed stops the process at start-up with the variable's name in the
message, instead of running with a silently wrong value.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


class ConfigurationError(RuntimeError):
    """A setting read from the environment is missing or malformed."""


def env_str(name: str, default: str | None = None) -> str | None:
    value = os.environ.get(name)
    return default if value is None else value


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    lowered = value.strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise ConfigurationError(f"{name}={value!r} is not a boolean (use true/false)")


def env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    if value is None or value.strip() == "":
        return default
    try:
        return int(value)
    except ValueError:
        raise ConfigurationError(f"{name}={value!r} is not an integer") from None


def env_float(name: str, default: float) -> float:
    value = os.environ.get(name)
    if value is None or value.strip() == "":
        return default
    try:
        return float(value)
    except ValueError:
        raise ConfigurationError(f"{name}={value!r} is not a number") from None


def env_list(name: str, default: list[str]) -> list[str]:
    value = os.environ.get(name)
    if value is None:
        return default
    return [item.strip() for item in value.split(",") if item.strip()]


def secret_from_env_or_file(name: str, path: Path, *, allow_generate: bool, generator=None) -> str:
    """Return the secret from the environment, else from ``path``.

    For the embedded default the secret is generated once into ``path`` (mode 0600) so that
    restarts keep sessions and encrypted credentials readable. In production
    (``allow_generate=False``) a missing secret is a start-up error, never a silent default.
    """
    value = os.environ.get(name)
    if value:
        return value
    if path.exists():
        return path.read_text().strip()
    if not allow_generate:
        raise ConfigurationError(
            f"{name} must be set when DEBUG is false (no generated development secret in production)"
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    secret = (generator or (lambda: secrets.token_urlsafe(50)))()
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process generated it first
        return path.read_text().strip()
    with os.fdopen(fd, "w") as handle:
        handle.write(secret)
    return secret
