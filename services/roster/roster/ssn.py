"""SSNs at rest and on the way out (ARCHITECTURE.md pattern 11): a member's SSN is stored encrypted
(servicekit.crypto.FieldCipher, key FIELD_ENCRYPTION_KEY) with its last 4 for display and searching, and a
keyed hash (FIELD_HASH_KEY) to find "this person" without decrypting every row. It leaves the service in full
only for callers who may see it (group admins, carrier staff); everyone else gets "***-**-1234".
Nothing here logs a number or puts one in an error message.
"""
import functools

from servicekit.crypto import FieldCipher

MASK = "***-**-%s"


@functools.lru_cache(maxsize=8)
def _cipher(encryption_key, hash_key):
    return FieldCipher(encryption_key, hash_key)


def cipher_for(config):
    """The service's cipher (one per key pair, built once)."""
    return _cipher(config.get("FIELD_ENCRYPTION_KEY"), config.get("FIELD_HASH_KEY"))


def protected_columns(cipher, ssn):
    """The Member columns for an SSN (9 digits) or for none (a newborn without one yet)."""
    if not ssn:
        return {"ssn_ciphertext": None, "ssn_last4": None, "ssn_hash": None}
    return {"ssn_ciphertext": cipher.encrypt(ssn), "ssn_last4": cipher.last4(ssn), "ssn_hash": cipher.lookup_hash(ssn)}


def lookup_hash(cipher, ssn):
    return cipher.lookup_hash(ssn)


def masked(last4):
    return MASK % last4 if last4 else None


def formatted(digits):
    return "%s-%s-%s" % (digits[:3], digits[3:5], digits[5:]) if digits else None


def shown(cipher, member, full):
    """A member's SSN as the caller may see it: NNN-NN-NNNN when `full`, else masked; None when unknown."""
    if member.ssn_last4 is None:
        return None
    if full and member.ssn_ciphertext:
        return formatted(cipher.decrypt(member.ssn_ciphertext))
    return masked(member.ssn_last4)


def masked_request_ssn(ssn):
    """An SSN as a transaction's stored request may keep it: the last 4 only."""
    return masked(ssn[-4:]) if ssn else None
