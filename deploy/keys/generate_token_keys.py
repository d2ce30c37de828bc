"""Create the Ed25519 key pair that identity signs access tokens with, unless it exists already.

docker-compose.yml runs it once per `up` (the `keys` service) into two volumes: the private key into
one that only identity mounts, the public key into one that every service and the gateway mount.
An existing pair is kept, so a restart does not invalidate every token issued; a lost public key is
derived again from the private one. For Kubernetes, run it on your machine and load the two files
into a Secret (deploy/k8s/README.md).

    python deploy/keys/generate_token_keys.py --private PRIVATE.pem --public PUBLIC.pem
"""
import argparse
import os
import sys

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey


def write_file(path, data, mode):
    """Write `data` to `path` atomically, with `mode` from the start (a key is never world-readable)."""
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    temporary = path + ".tmp"
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, path)


def public_pem(private_key):
    return private_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


def ensure_keys(private_path, public_path):
    """Returns what it did: "kept", "derived public key" or "generated"."""
    if os.path.exists(private_path):
        with open(private_path, "rb") as handle:
            private_key = serialization.load_pem_private_key(handle.read(), password=None)
        if not isinstance(private_key, Ed25519PrivateKey):
            raise SystemExit("%s is not an Ed25519 private key" % private_path)
        expected = public_pem(private_key)
        if os.path.exists(public_path):
            with open(public_path, "rb") as handle:
                if handle.read() == expected:
                    return "kept"
        write_file(public_path, expected, 0o644)
        return "derived public key"
    private_key = Ed25519PrivateKey.generate()
    write_file(public_path, public_pem(private_key), 0o644)
    write_file(private_path, private_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()), 0o600)
    return "generated"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--private", required=True, help="PEM file of the private key (identity only)")
    parser.add_argument("--public", required=True, help="PEM file of the public key (every service, the gateway)")
    args = parser.parse_args(argv)
    outcome = ensure_keys(args.private, args.public)
    print("token keys %s: %s, %s" % (outcome, args.private, args.public))
    return 0


if __name__ == "__main__":
    sys.exit(main())
