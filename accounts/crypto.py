"""Broker credentials at rest: Fernet with ``settings.FIELD_ENCRYPTION_KEY``.

Several keys may be given comma-separated (newest first) to rotate: new values are encrypted with
the first, old ones still decrypt.
"""

from __future__ import annotations

from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings


class CredentialsUnreadable(Exception):
    """A stored secret cannot be decrypted (the encryption key changed)."""


@lru_cache(maxsize=4)
def _fernet(key_setting: str) -> MultiFernet:
    keys = [k.strip() for k in key_setting.split(",") if k.strip()]
    return MultiFernet([Fernet(k.encode()) for k in keys])


def encrypt(plaintext: str) -> str:
    """Ciphertext of ``plaintext`` (empty stays empty, so 'no secret' needs no key)."""
    if not plaintext:
        return ""
    return _fernet(settings.FIELD_ENCRYPTION_KEY).encrypt(plaintext.encode()).decode()


def decrypt(ciphertext: str) -> str:
    if not ciphertext:
        return ""
    try:
        return _fernet(settings.FIELD_ENCRYPTION_KEY).decrypt(ciphertext.encode()).decode()
    except InvalidToken as exc:
        raise CredentialsUnreadable(
            "Stored broker credentials cannot be decrypted; enter the password again."
        ) from exc
