"""The users of the service, their roles and their tokens.

A token reads ``htg_<id>_<secret>``: ``<id>`` is 12 hexadecimal characters, public, that find
the user's row with one indexed lookup; ``<secret>`` is :func:`secrets.token_urlsafe` of 32
bytes (256 random bits). The store keeps the id, a random 16-byte salt of the user's own and
PBKDF2-HMAC-SHA256 of the secret with that salt: never the token. A stolen table therefore
opens no door, and a token is checked by hashing once and comparing in constant time
(:func:`hmac.compare_digest`), whatever the number of users.

PBKDF2-HMAC-SHA256 rather than scrypt: the secret is 256 random bits, so that no guessing
attack, slowed or not, can reach it; what the hash must do is be one-way and salted. A slow,
memory-hard hash (scrypt's 16 MiB and tens of milliseconds) would be paid on every request
of the service and buy nothing. PBKDF2 is in the standard library on every build of Python
(scrypt needs OpenSSL 1.1 with it), and a few thousand iterations keep it well under a
millisecond or two.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from hatangso.geo.errors import Problem

__all__ = [
    "TOKEN_PREFIX",
    "USER_ROLES",
    "NewUser",
    "User",
    "UserRole",
    "hash_secret",
    "new_token",
    "split_token",
    "user_problems",
]

UserRole = Literal["official", "operator", "viewer"]

#: The roles a user may have (the administrator is the holder of the service's API key).
USER_ROLES: tuple[UserRole, ...] = ("official", "operator", "viewer")

#: Every token starts so, which makes one recognisable in a log or a leaked file.
TOKEN_PREFIX = "htg_"

#: PBKDF2 iterations: a one-way salted hash; the token's 256 bits are what resist guessing.
PBKDF2_ITERATIONS = 4_000

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$")
_TOKEN = re.compile(r"^htg_([0-9a-f]{12})_([A-Za-z0-9_-]{20,100})$")
#: Names that stand for someone else in the history.
_RESERVED = frozenset({"admin"})


@dataclass(frozen=True)
class User:
    """A user of the service (never its token).

    Attributes
    ----------
    name
        Unique; the history names it as the author of each change the user makes.
    role
        ``official``, ``operator`` or ``viewer``.
    operator
        An operator's own operator (its rows are the ones it may write); None otherwise.
    province
        An official's province (None: any province).
    created
        When the user was added (UTC).
    revoked
        When its token was revoked (UTC), or None while it is valid.
    last_used
        When its token was last accepted (UTC, to the minute), or None.
    """

    name: str
    role: UserRole
    operator: str | None
    province: str | None
    created: datetime
    revoked: datetime | None = None
    last_used: datetime | None = None

    @property
    def active(self) -> bool:
        """Whether its token is still accepted."""
        return self.revoked is None


@dataclass(frozen=True)
class NewUser:
    """A user just added, with its token: shown this once, never stored.

    Attributes
    ----------
    user
        The user.
    token
        The bearer token (``htg_...``).
    """

    user: User
    token: str


def new_token() -> tuple[str, str, str]:
    """Return a new token's public id, its secret and the token itself.

    Examples
    --------
    >>> token_id, secret, token = new_token()
    >>> token == f"htg_{token_id}_{secret}" and split_token(token) == (token_id, secret)
    True
    """
    token_id = secrets.token_hex(6)
    secret = secrets.token_urlsafe(32)
    return token_id, secret, f"{TOKEN_PREFIX}{token_id}_{secret}"


def split_token(token: str) -> tuple[str, str] | None:
    """Return a token's id and secret, or None if it is not shaped as hatangso's tokens.

    Examples
    --------
    >>> split_token("htg_0123456789ab_" + "x" * 43)[0]
    '0123456789ab'
    >>> split_token("not-a-token") is None
    True
    """
    match = _TOKEN.match(token)
    if match is None:
        return None
    return match.group(1), match.group(2)


def hash_secret(secret: str, salt: str) -> str:
    """Return PBKDF2-HMAC-SHA256 of `secret` with `salt` (hex), as hex.

    Examples
    --------
    >>> len(hash_secret("s3cret", "00" * 16))
    64
    """
    digest = hashlib.pbkdf2_hmac(
        "sha256", secret.encode("utf-8"), bytes.fromhex(salt), PBKDF2_ITERATIONS
    )
    return digest.hex()


def same_hash(given: str, stored: str) -> bool:
    """Compare two hashes in constant time."""
    return hmac.compare_digest(given.encode("ascii"), stored.encode("ascii"))


def user_problems(
    name: str, role: str, operator: str | None, province: str | None
) -> list[Problem]:
    """Return every fault of a new user's name, role, operator and province.

    Examples
    --------
    >>> [p.message for p in user_problems("vnpt-1", "operator", None, None)]
    ['an operator user needs the operator whose rows it writes']
    >>> user_problems("so-tt", "official", None, "Bắc Kạn")
    []
    """
    problems: list[Problem] = []
    if not _NAME.match(name) or name.lower() in _RESERVED:
        problems.append(
            Problem(
                file="NAME",
                message=f"{name!r} is not a usable user name",
                fix="use letters, digits, '.', '_', '@' and '-' (at most 64), not 'admin'",
            )
        )
    if role not in USER_ROLES:
        problems.append(
            Problem(
                file="--role",
                message=f"{role!r} is not a role",
                fix="use " + ", ".join(USER_ROLES),
            )
        )
    if role == "operator" and not (operator or "").strip():
        problems.append(
            Problem(
                file="--operator",
                message="an operator user needs the operator whose rows it writes",
                fix="add --operator, e.g. --operator VNPT",
            )
        )
    if role != "operator" and operator is not None:
        problems.append(
            Problem(
                file="--operator",
                message=f"a user of role {role!r} writes for no operator",
                fix="give --operator only with --role operator",
            )
        )
    if role != "official" and province is not None:
        problems.append(
            Problem(
                file="--province",
                message=f"a user of role {role!r} writes in no province",
                fix="give --province only with --role official",
            )
        )
    return problems
