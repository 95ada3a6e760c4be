"""Personal-data protection: keyed look-up hashes and authenticated encryption at rest.

ID numbers are stored twice: an HMAC-SHA256 under ``lookup_hash_key`` (to find a resident without
storing the number) and an AES-256-GCM ciphertext under ``data_encryption_key`` (to show a masked
form to authorised users). Ciphertexts carry a key-version byte so keys can be rotated.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from office.settings import PLACEHOLDER_SECRET, Settings

__all__ = ["DecryptionError", "PersonalDataCipher", "mask_id_number", "mask_name"]

_VERSION = b"\x01"


class DecryptionError(ValueError):
    """A ciphertext was tampered with or encrypted under another key."""


class PersonalDataCipher:
    """Encrypts, decrypts and hashes personal data with keys from the settings."""

    def __init__(self, settings: Settings) -> None:
        enc = settings.data_encryption_key.get_secret_value()
        look = settings.lookup_hash_key.get_secret_value()
        # Development with placeholder keys derives stable throw-away keys; settings refuse this elsewhere.
        self._aead = AESGCM(
            hashlib.sha256(b"doorstep-dev-data-key").digest()
            if enc == PLACEHOLDER_SECRET
            else base64.b64decode(enc)
        )
        self._hash_key = look.encode()

    def lookup_hash(self, value: str) -> str:
        """Keyed hash of a normalised identifier (upper-case, no spaces)."""
        normal = "".join(value.split()).upper()
        return hmac.new(self._hash_key, normal.encode(), hashlib.sha256).hexdigest()

    def encrypt(self, plaintext: str, *, context: bytes = b"") -> bytes:
        """AES-256-GCM with a random nonce; ``context`` is bound as associated data."""
        nonce = os.urandom(12)
        return _VERSION + nonce + self._aead.encrypt(nonce, plaintext.encode(), context)

    def encrypt_bytes(self, data: bytes, *, context: bytes = b"") -> bytes:
        """Encrypt a binary blob (document images)."""
        nonce = os.urandom(12)
        return _VERSION + nonce + self._aead.encrypt(nonce, data, context)

    def decrypt_bytes(self, blob: bytes, *, context: bytes = b"") -> bytes:
        """Inverse of :meth:`encrypt_bytes`; raises :class:`DecryptionError` on tampering."""
        if len(blob) < 29 or blob[:1] != _VERSION:
            raise DecryptionError("unknown ciphertext format")
        try:
            return self._aead.decrypt(blob[1:13], blob[13:], context)
        except InvalidTag as err:
            raise DecryptionError("ciphertext failed authentication") from err

    def decrypt(self, blob: bytes, *, context: bytes = b"") -> str:
        """Inverse of :meth:`encrypt`."""
        return self.decrypt_bytes(blob, context=context).decode()


def mask_id_number(value: str) -> str:
    """``310101199001011234`` → ``3101**********1234`` (first 4 and last 4 kept)."""
    v = "".join(value.split())
    if len(v) <= 8:
        return "*" * len(v)
    return v[:4] + "*" * (len(v) - 8) + v[-4:]


def mask_name(value: str) -> str:
    """Keep the family name (first character): ``张三丰`` → ``张**``; Latin names keep the initial."""
    v = value.strip()
    if not v:
        return ""
    return v[0] + "*" * max(1, len(v) - 1)
