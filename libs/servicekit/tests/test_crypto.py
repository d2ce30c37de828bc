"""FieldCipher: AES-GCM round trip, versioned random tokens, tamper detection, last4 and keyed lookup hashes."""
import base64

import pytest

from servicekit.crypto import FieldCipher, FieldDecryptionError, generate_key, last4

SSN = "123-45-6789"


@pytest.fixture
def cipher():
    return FieldCipher(generate_key(), generate_key())


def test_round_trip_and_token_format(cipher):
    token = cipher.encrypt(SSN)
    assert token.startswith("v1:")
    assert "6789" not in token and "123" not in token.split(":", 1)[0]
    raw = base64.b64decode(token[3:])
    assert len(raw) == 12 + len(SSN) + 16  # nonce + ciphertext + GCM tag
    assert cipher.decrypt(token) == SSN
    assert cipher.decrypt(cipher.encrypt("Zoë ∆ 9")) == "Zoë ∆ 9"


def test_each_encryption_uses_a_fresh_nonce(cipher):
    # Equal SSNs must not give equal ciphertexts, or the column itself reveals who shares one.
    first, second = cipher.encrypt(SSN), cipher.encrypt(SSN)
    assert first != second
    assert base64.b64decode(first[3:])[:12] != base64.b64decode(second[3:])[:12]


def test_none_passes_through(cipher):
    assert cipher.encrypt(None) is None
    assert cipher.decrypt(None) is None


def flip_a_bit(token, index):
    raw = bytearray(base64.b64decode(token[3:]))
    raw[index] ^= 0x01
    return "v1:" + base64.b64encode(bytes(raw)).decode()


@pytest.mark.parametrize("index", [0, 12, -1])  # in the nonce, the ciphertext, the tag
def test_tampering_is_detected(cipher, index):
    with pytest.raises(FieldDecryptionError, match="tampered"):
        cipher.decrypt(flip_a_bit(cipher.encrypt(SSN), index))


def test_another_key_cannot_decrypt(cipher):
    other = FieldCipher(generate_key(), generate_key())
    with pytest.raises(FieldDecryptionError) as caught:
        other.decrypt(cipher.encrypt(SSN))
    assert "6789" not in str(caught.value)


@pytest.mark.parametrize("token", ["v2:AAAA", "123-45-6789", "v1:not base64!",
                                   "v1:" + base64.b64encode(b"short").decode()])
def test_malformed_tokens_are_rejected_without_echoing_them(cipher, token):
    with pytest.raises(FieldDecryptionError) as caught:
        cipher.decrypt(token)
    assert "6789" not in str(caught.value)


def test_last4_keeps_digits_only():
    assert last4(SSN) == "6789"
    assert last4("  000 12 3456 ") == "3456"
    assert last4("acct 0012-3456-78") == "5678"
    assert FieldCipher.last4("12") == "12"


def test_lookup_hash_is_keyed_and_normalised(cipher):
    digest = cipher.lookup_hash(SSN)
    assert len(digest) == 64 and int(digest, 16) >= 0
    assert cipher.lookup_hash("123456789") == digest
    assert cipher.lookup_hash(" 123 45 6789 ") == digest
    assert cipher.lookup_hash("123-45-6780") != digest
    # Another hash key gives another hash: a leaked column cannot be matched against all 10^9 SSNs.
    assert FieldCipher(generate_key(), generate_key()).lookup_hash(SSN) != digest
    with pytest.raises(ValueError):
        cipher.lookup_hash("n/a")


def test_from_config_and_key_validation():
    encryption_key, hash_key = generate_key(), generate_key()
    cipher = FieldCipher.from_config({"FIELD_ENCRYPTION_KEY": encryption_key, "FIELD_HASH_KEY": hash_key})
    token = cipher.encrypt(SSN)
    # The same keys in another process (another service replica) read the same data.
    assert FieldCipher(encryption_key, hash_key).decrypt(token) == SSN
    assert FieldCipher(encryption_key, hash_key).lookup_hash(SSN) == cipher.lookup_hash(SSN)
    urlsafe = base64.urlsafe_b64encode(base64.b64decode(encryption_key)).decode()
    assert FieldCipher(urlsafe, hash_key).decrypt(token) == SSN

    with pytest.raises(ValueError, match="FIELD_ENCRYPTION_KEY is not set"):
        FieldCipher.from_config({"FIELD_HASH_KEY": hash_key})
    with pytest.raises(ValueError, match="FIELD_HASH_KEY must decode to 32 bytes"):
        FieldCipher(encryption_key, base64.b64encode(b"x" * 16).decode())
    with pytest.raises(ValueError, match="not valid base64"):
        FieldCipher("!!!!", hash_key)


def test_generated_keys_are_random_32_bytes():
    first, second = generate_key(), generate_key()
    assert first != second
    assert len(base64.b64decode(first)) == 32
