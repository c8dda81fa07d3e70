import os

import pytest

from canary.errors import KeyMaterialError
from canary.security.crypto import KeyRing, create_master_key_file


def test_key_file_is_private_and_created_once(tmp_path):
    path = tmp_path / "keys" / "master.key"
    assert create_master_key_file(path) is True
    assert create_master_key_file(path) is False
    assert os.stat(path).st_mode & 0o077 == 0


def test_group_readable_key_is_refused(tmp_path):
    path = tmp_path / "master.key"
    create_master_key_file(path)
    os.chmod(path, 0o640)
    with pytest.raises(KeyMaterialError, match="chmod 600"):
        KeyRing.load("", path)


def test_ciphertext_is_bound_to_its_record(tmp_path):
    keys = KeyRing.from_master(b"k" * 32)
    blob = keys.encrypt_text("13800138000", "canary:1:2026-W48:0")
    assert b"13800138000" not in blob
    assert keys.decrypt_text(blob, "canary:1:2026-W48:0") == "13800138000"
    with pytest.raises(KeyMaterialError):
        keys.decrypt_text(blob, "canary:2:2026-W48:0")


def test_derivation_is_keyed_and_repeatable():
    a, b = KeyRing.from_master(b"a" * 32), KeyRing.from_master(b"b" * 32)
    assert a.derive("mint", "copy:1", "2026-W48") == a.derive("mint", "copy:1", "2026-W48")
    assert a.derive("mint", "copy:1", "2026-W48") != b.derive("mint", "copy:1", "2026-W48")
    assert a.lookup_hash("phone", "+8613800138000") != b.lookup_hash("phone", "+8613800138000")


def test_keyed_hash_is_exactly_hmac():
    import hashlib
    import hmac
    import random

    from canary.security.crypto import KeyedHash

    rng = random.Random(7)
    for name in ("sha1", "sha256"):
        block = hashlib.new(name).block_size
        for key_length in (0, 1, 20, 32, block - 1, block, block + 1, 3 * block):
            key = rng.randbytes(key_length)
            keyed = KeyedHash(key, name)
            for msg_length in (0, 1, 55, 56, 64, 200, 1000):
                msg = rng.randbytes(msg_length)
                assert keyed.digest(msg) == hmac.new(key, msg, name).digest(), (
                    name,
                    key_length,
                    msg_length,
                )


def test_lookup_hash_is_hmac_sha256_of_namespace_and_value():
    import hashlib
    import hmac

    keys = KeyRing.from_master(b"\x01" * 32)
    expected = hmac.new(keys._lookup, b"phone\x00+8613800138000", hashlib.sha256).hexdigest()
    assert keys.lookup_hash("phone", "+8613800138000") == expected
    assert keys.lookup_hash("phone", "+8613800138001") != expected
