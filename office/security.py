"""Credentials: argon2 password hashing, random tokens, and token digests.

High-entropy tokens (session cookies, device tokens, enrollment codes) are stored as SHA-256 digests;
only passwords, which people choose, need the slow argon2 hash.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

__all__ = [
    "STRONG",
    "PasswordHashing",
    "PasswordPolicyError",
    "check_password_policy",
    "digest",
    "hash_password",
    "new_enrollment_code",
    "new_token",
    "tokens_equal",
    "verify_password",
]


class PasswordHashing:
    """Argon2id with configurable cost. Verification follows the parameters stored in each hash."""

    def __init__(self, time_cost: int = 3, memory_kib: int = 65536, parallelism: int = 4) -> None:
        self._hasher = PasswordHasher(time_cost=time_cost, memory_cost=memory_kib, parallelism=parallelism)
        self._dummy: str | None = None

    def hash(self, password: str) -> str:
        """Argon2id hash of ``password``."""
        return self._hasher.hash(password)

    def verify(self, password_hash: str | None, password: str) -> bool:
        """Constant-work verification; a ``None`` hash (unknown user) still costs one verify, so
        timing does not reveal which usernames exist."""
        if self._dummy is None:
            self._dummy = self._hasher.hash(secrets.token_urlsafe(16))
        try:
            return self._hasher.verify(password_hash or self._dummy, password) and password_hash is not None
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False


#: The production default (argon2-cffi's recommended parameters).
STRONG = PasswordHashing()
_ENROLL_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: typed by technicians


class PasswordPolicyError(ValueError):
    """A new password does not meet the policy."""


def check_password_policy(password: str) -> None:
    """At least 10 characters mixing at least three of: lower, upper, digit, other."""
    classes = sum(
        (
            any(c.islower() for c in password),
            any(c.isupper() for c in password),
            any(c.isdigit() for c in password),
            any(not c.isalnum() for c in password),
        )
    )
    if len(password) < 10 or classes < 3:
        raise PasswordPolicyError(
            "password needs at least 10 characters and three of: lower case, upper case, digits, symbols"
        )


def hash_password(password: str, hashing: PasswordHashing = STRONG) -> str:
    """Argon2id hash of ``password``."""
    return hashing.hash(password)


def verify_password(password_hash: str | None, password: str, hashing: PasswordHashing = STRONG) -> bool:
    """See :meth:`PasswordHashing.verify`."""
    return hashing.verify(password_hash, password)


def new_token(prefix: str) -> str:
    """A 256-bit random token with a readable prefix (``ds_`` sessions, ``dk_`` devices)."""
    return f"{prefix}_{secrets.token_urlsafe(32)}"


def new_enrollment_code() -> str:
    """A one-time enrollment code a technician can type: ``XXXX-XXXX-XXXX`` (60 bits)."""
    raw = "".join(secrets.choice(_ENROLL_ALPHABET) for _ in range(12))
    return f"{raw[:4]}-{raw[4:8]}-{raw[8:]}"


def digest(token: str) -> str:
    """SHA-256 hex digest used to store and look up high-entropy tokens."""
    return hashlib.sha256(token.encode()).hexdigest()


def tokens_equal(a: str, b: str) -> bool:
    """Constant-time comparison."""
    return hmac.compare_digest(a.encode(), b.encode())
