"""Field encryption for personal data (pattern 11): SSNs and bank account numbers at rest.

A protected value is stored as three columns:
- the ciphertext, `encrypt(value)` -> "v1:<base64 of nonce + AES-GCM ciphertext and tag>";
- `last4(value)` for display ("***-**-6789");
- `lookup_hash(value)`, a keyed HMAC-SHA256 of the digits, to find a record by SSN without
  decrypting every row. It is keyed (FIELD_HASH_KEY) because a plain hash of a 9-digit SSN is
  reversed by trying all 10^9 values.

Keys are 32 random bytes, base64, from config `FIELD_ENCRYPTION_KEY` and `FIELD_HASH_KEY`; make
them with `python -m servicekit.crypto`. The "v1:" prefix names the format and key generation, so
keys can be rotated later by adding "v2" without guessing what a stored token is.

Nothing here logs or puts a plaintext into an exception message.
"""
import base64
import binascii
import hashlib
import hmac
import os
import re

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

VERSION = "v1"
NONCE_BYTES = 12  # the size AES-GCM is designed for; random per encryption


class FieldDecryptionError(ValueError):
    """A stored token that cannot be decrypted: tampered, truncated, or made with another key."""


def generate_key():
    """A new random 32-byte key, base64 (for FIELD_ENCRYPTION_KEY or FIELD_HASH_KEY)."""
    return base64.b64encode(os.urandom(32)).decode("ascii")


def _decode_key(value, name):
    if not value:
        raise ValueError("%s is not set; generate one with `python -m servicekit.crypto`" % name)
    # Accept the URL-safe alphabet too; either is "base64" to whoever pasted the key.
    text = str(value).strip().replace("-", "+").replace("_", "/")
    try:
        key = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("%s is not valid base64" % name) from None
    if len(key) != 32:
        raise ValueError("%s must decode to 32 bytes, got %d" % (name, len(key)))
    return key


def digits(value):
    return re.sub(r"\D", "", str(value))


def last4(value):
    """The last four digits, for display; separators and other characters are ignored."""
    return digits(value)[-4:]


class FieldCipher:
    def __init__(self, encryption_key, hash_key):
        self._aead = AESGCM(_decode_key(encryption_key, "FIELD_ENCRYPTION_KEY"))
        self._hash_key = _decode_key(hash_key, "FIELD_HASH_KEY")

    @classmethod
    def from_config(cls, config):
        return cls(config.get("FIELD_ENCRYPTION_KEY"), config.get("FIELD_HASH_KEY"))

    def encrypt(self, plaintext):
        """Encrypt a string; None stays None (an optional field, e.g. a dependent without an SSN)."""
        if plaintext is None:
            return None
        nonce = os.urandom(NONCE_BYTES)
        sealed = self._aead.encrypt(nonce, str(plaintext).encode("utf-8"), None)
        return "%s:%s" % (VERSION, base64.b64encode(nonce + sealed).decode("ascii"))

    def decrypt(self, token):
        if token is None:
            return None
        version, sep, body = str(token).partition(":")
        if not sep or version != VERSION:
            raise FieldDecryptionError("not a %s field token" % VERSION)
        try:
            raw = base64.b64decode(body, validate=True)
        except (binascii.Error, ValueError):
            raise FieldDecryptionError("field token is not valid base64") from None
        if len(raw) < NONCE_BYTES + 16:  # nonce + the 16-byte tag at least
            raise FieldDecryptionError("field token is truncated")
        try:
            plaintext = self._aead.decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], None)
        except InvalidTag:
            raise FieldDecryptionError(
                "field token failed authentication: tampered with, or encrypted with another key") from None
        return plaintext.decode("utf-8")

    last4 = staticmethod(last4)

    def lookup_hash(self, value):
        """HMAC-SHA256 (hex) of the value's digits, so "123-45-6789" and "123456789" find the same row."""
        normalised = digits(value)
        if not normalised:
            # Hashing "" would make every empty value match every other; refuse instead.
            raise ValueError("lookup_hash needs a value with digits")
        return hmac.new(self._hash_key, normalised.encode("ascii"), hashlib.sha256).hexdigest()


if __name__ == "__main__":
    print("FIELD_ENCRYPTION_KEY=%s" % generate_key())
    print("FIELD_HASH_KEY=%s" % generate_key())
