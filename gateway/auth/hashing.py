"""Slow salted hashes of credential secrets (scrypt), compared in constant time.

A leaked credentials file must not hand out working secrets, so only scrypt
hashes are stored, each with its own random salt and the cost parameters it
was made with (so the defaults can be raised later without breaking old
hashes). Everything here is synchronous and CPU-bound: callers on the event
loop run it in an executor.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass, field

SALT_BYTES = 16
KEY_BYTES = 32
# Most memory one hash may take (128·n·r·p bytes): 8x the default cost. A file asking for
# more is refused on load rather than allocating it, two at a time, on the request path.
MAX_SCRYPT_BYTES = 128 * 2**20
MAX_KEY_BYTES = 64


@dataclass(frozen=True)
class ScryptParams:
    """scrypt cost parameters; the default costs ~16 MiB and tens of ms per hash."""

    n: int = 2**14
    r: int = 8
    p: int = 1

    def __post_init__(self) -> None:
        # Checked here so a bad file fails on load, not as a 500 inside the executor.
        for name in ("n", "r", "p"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"scrypt {name} must be a positive integer, not {value!r}")
        if self.n < 2 or self.n & (self.n - 1):
            raise ValueError(f"scrypt n must be a power of two above 1, not {self.n}")
        if 128 * self.n * self.r * self.p > MAX_SCRYPT_BYTES:
            raise ValueError(f"scrypt cost n={self.n} r={self.r} p={self.p} needs more than "
                             f"{MAX_SCRYPT_BYTES // 2**20} MiB")

    @property
    def maxmem(self) -> int:
        # OpenSSL refuses n*r above its 32 MiB default limit; allow twice what is needed.
        return 2 * 128 * self.r * self.n * self.p + 1024 * 1024


DEFAULT_PARAMS = ScryptParams()


@dataclass(frozen=True)
class SecretHash:
    """One stored hash: algorithm, parameters, salt and derived key.

    `repr` shows only the parameters: salt and key are what an attacker would need to
    guess secrets offline, so they must not leak through a log line.
    """

    params: ScryptParams
    salt: bytes = field(repr=False)
    key: bytes = field(repr=False)

    def to_json(self) -> dict:
        return {
            "alg": "scrypt",
            "n": self.params.n,
            "r": self.params.r,
            "p": self.params.p,
            "salt": base64.b64encode(self.salt).decode("ascii"),
            "hash": base64.b64encode(self.key).decode("ascii"),
        }

    @classmethod
    def from_json(cls, doc: dict) -> SecretHash:
        if doc.get("alg") != "scrypt":
            raise ValueError(f"unsupported hash algorithm {doc.get('alg')!r}")
        key = base64.b64decode(doc["hash"])
        if not 1 <= len(key) <= MAX_KEY_BYTES:
            raise ValueError(f"a stored hash must be 1 to {MAX_KEY_BYTES} bytes, not {len(key)}")
        return cls(
            params=ScryptParams(n=doc["n"], r=doc["r"], p=doc["p"]),
            salt=base64.b64decode(doc["salt"]),
            key=key,
        )


def derive(secret: str, salt: bytes, params: ScryptParams, length: int = KEY_BYTES) -> bytes:
    """The scrypt key of `secret`; the slow part, meant for an executor thread."""
    return hashlib.scrypt(
        secret.encode("utf-8", "surrogatepass"),
        salt=salt,
        n=params.n,
        r=params.r,
        p=params.p,
        maxmem=params.maxmem,
        dklen=length,
    )


def hash_secret(secret: str, params: ScryptParams = DEFAULT_PARAMS) -> SecretHash:
    """Hash a new secret with a fresh random salt."""
    salt = secrets.token_bytes(SALT_BYTES)
    return SecretHash(params, salt, derive(secret, salt, params))


def matches(secret: str, stored: SecretHash) -> bool:
    """Whether `secret` hashes to `stored`, compared in constant time."""
    candidate = derive(secret, stored.salt, stored.params, len(stored.key))
    return hmac.compare_digest(candidate, stored.key)


def dummy_hash(params: ScryptParams = DEFAULT_PARAMS) -> SecretHash:
    """A hash no secret matches (random key), so an unknown name costs a full scrypt."""
    return SecretHash(params, secrets.token_bytes(SALT_BYTES), secrets.token_bytes(KEY_BYTES))
