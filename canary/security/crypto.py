"""The one module that owns key material and encryption.

A single 32-byte master key (from ``CANARY_MASTER_KEY`` or a 0600 key file outside
the repository) is expanded with HKDF into independent subkeys, one per purpose, so
that a leak of one derived value reveals nothing about the others:

* ``registry``: AES-256-GCM for canary personal fields and other secrets at rest;
* ``lookup``: HMAC-SHA256 for looking up numbers without storing them in clear;
* ``mint``: seeds for deterministic, keyed canary content (see ``derive``);
* ``evidence``: the Ed25519 key that signs the evidence log.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import json
import os
import secrets
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from canary.errors import KeyMaterialError

NONCE_BYTES = 12


# HMAC's inner and outer key pads (RFC 2104), as the standard library's hmac builds them.
_IPAD = bytes(x ^ 0x36 for x in range(256))
_OPAD = bytes(x ^ 0x5C for x in range(256))


class KeyedHash:
    """HMAC with one fixed key, its padded-key hash states computed once.

    Gives exactly ``hmac.digest(key, msg, hash_name)``. With OpenSSL 3 every one-shot
    HMAC looks its algorithm up again, which costs about twice the hashing of a short
    message; a webhook computes three or four of them.
    """

    def __init__(self, key: bytes, hash_name: str):
        block_size = hashlib.new(hash_name).block_size
        if len(key) > block_size:
            key = hashlib.new(hash_name, key).digest()
        key = key.ljust(block_size, b"\0")
        self._inner = hashlib.new(hash_name, key.translate(_IPAD))
        self._outer = hashlib.new(hash_name, key.translate(_OPAD))

    def digest(self, msg: bytes) -> bytes:
        inner = self._inner.copy()
        inner.update(msg)
        outer = self._outer.copy()
        outer.update(inner.digest())
        return outer.digest()


@functools.lru_cache(maxsize=16)  # the few keys webhooks are signed with
def keyed_hash(key: bytes, hash_name: str) -> KeyedHash:
    return KeyedHash(key, hash_name)


def _hkdf(master: bytes, info: str, length: int = 32) -> bytes:
    return HKDF(
        algorithm=hashes.SHA256(), length=length, salt=b"canary/v1", info=info.encode()
    ).derive(master)


def _check_private(path: Path) -> None:
    mode = path.stat().st_mode
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise KeyMaterialError(
            f"key file {path} is readable by group or others (mode {oct(mode & 0o777)}); "
            f"run `chmod 600 {path}`"
        )


def create_master_key_file(path: Path) -> bool:
    """Create a new master key file atomically with mode 0600. Returns False if one exists."""
    if path.exists():
        _check_private(path)
        return False
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.write(fd, base64.b64encode(secrets.token_bytes(32)) + b"\n")
        os.fsync(fd)
    finally:
        os.close(fd)
    try:
        os.link(tmp, path)  # fails if another process created the key meanwhile
    except FileExistsError:
        return False
    finally:
        tmp.unlink(missing_ok=True)
    return True


def _decode_master(text: str, where: str) -> bytes:
    try:
        raw = base64.b64decode(text.strip(), validate=True)
    except ValueError as exc:
        raise KeyMaterialError(f"master key in {where} is not valid base64") from exc
    if len(raw) != 32:
        raise KeyMaterialError(f"master key in {where} must be 32 bytes, got {len(raw)}")
    return raw


@dataclass(frozen=True)
class KeyRing:
    """Derived keys and the operations that use them."""

    _registry: bytes
    _lookup: bytes
    _mint: bytes
    _evidence_seed: bytes

    @classmethod
    def from_master(cls, master: bytes) -> KeyRing:
        return cls(
            _registry=_hkdf(master, "registry-encryption"),
            _lookup=_hkdf(master, "lookup-hash"),
            _mint=_hkdf(master, "canary-content"),
            _evidence_seed=_hkdf(master, "evidence-signing"),
        )

    @classmethod
    def load(cls, master_key_b64: str, key_path: Path) -> KeyRing:
        """Load from the environment value if set, else from the key file."""
        if master_key_b64:
            return cls.from_master(_decode_master(master_key_b64, "CANARY_MASTER_KEY"))
        if not key_path.exists():
            raise KeyMaterialError(f"no master key at {key_path}; run `canary init` first")
        _check_private(key_path)
        return cls.from_master(_decode_master(key_path.read_text(), str(key_path)))

    # -- encryption at rest ---------------------------------------------------
    @functools.cached_property
    def _aead(self) -> AESGCM:
        # Built once: every stored webhook is encrypted two or three times.
        return AESGCM(self._registry)

    def encrypt(self, plaintext: bytes, aad: bytes = b"") -> bytes:
        nonce = os.urandom(NONCE_BYTES)  # what secrets.token_bytes returns, one call less
        return nonce + self._aead.encrypt(nonce, plaintext, aad)

    def decrypt(self, blob: bytes, aad: bytes = b"") -> bytes:
        try:
            return self._aead.decrypt(blob[:NONCE_BYTES], blob[NONCE_BYTES:], aad)
        except InvalidTag as exc:
            raise KeyMaterialError(
                "stored ciphertext does not decrypt with this master key"
            ) from exc

    def encrypt_text(self, text: str, aad: str = "") -> bytes:
        return self.encrypt(text.encode("utf-8"), aad.encode())

    def decrypt_text(self, blob: bytes, aad: str = "") -> str:
        return self.decrypt(blob, aad.encode()).decode("utf-8")

    def encrypt_json(self, value: Any, aad: str = "") -> bytes:
        return self.encrypt(
            json.dumps(value, ensure_ascii=False, sort_keys=True).encode(), aad.encode()
        )

    def decrypt_json(self, blob: bytes, aad: str = "") -> Any:
        return json.loads(self.decrypt(blob, aad.encode()))

    # -- keyed lookups ----------------------------------------------------------
    def lookup_hash(self, namespace: str, value: str) -> str:
        """Keyed hash for equality lookups (e.g. a phone number) without storing it."""
        return self._lookup_hmac.digest(f"{namespace}\x00{value}".encode()).hex()

    @functools.cached_property
    def _lookup_hmac(self) -> KeyedHash:
        return KeyedHash(self._lookup, "sha256")

    # -- keyed derivation -------------------------------------------------------
    def derive(self, purpose: str, *context: str, length: int = 32) -> bytes:
        """Deterministic secret bytes for a purpose and context (copy, period, slot...)."""
        info = "\x1f".join((purpose, *context))
        return _hkdf(self._mint, info, length)

    # -- evidence signing -----------------------------------------------------
    def evidence_signing_key(self) -> Ed25519PrivateKey:
        return Ed25519PrivateKey.from_private_bytes(self._evidence_seed)

    def evidence_public_key(self) -> Ed25519PublicKey:
        return self.evidence_signing_key().public_key()

    def evidence_public_key_b64(self) -> str:
        raw = self.evidence_public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        return base64.b64encode(raw).decode()


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
