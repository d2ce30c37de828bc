"""The gateway's settings, read from the environment (the services read config.yaml; the gateway is
a plain WSGI app that gunicorn imports, so environment variables are its only input)."""
import os

DEFAULTS = {
    "AMQP_URI": "amqp://guest:guest@localhost:5672/",
    "RPC_TIMEOUT_SECONDS": 10.0,
    # census imports, roster exports, catalogue loads, the transactions job run on demand
    "BULK_RPC_TIMEOUT_SECONDS": 60.0,
    "HEALTH_TIMEOUT_SECONDS": 3.0,
    "TOKEN_PUBLIC_KEY": None,
    "TOKEN_PUBLIC_KEY_FILE": None,
    "PROMETHEUS_MULTIPROC_DIR": None,
    "MAX_BODY_BYTES": 10 * 1024 * 1024,
    # X-Forwarded-For hops to believe: 0 when clients reach gunicorn directly, 1 behind one load balancer.
    # Believing more hops than exist would let a client choose its own address (and dodge throttles).
    "TRUSTED_PROXY_HOPS": 0,
}

_NUMBERS = {"RPC_TIMEOUT_SECONDS": float, "BULK_RPC_TIMEOUT_SECONDS": float, "HEALTH_TIMEOUT_SECONDS": float,
            "MAX_BODY_BYTES": int, "TRUSTED_PROXY_HOPS": int}


def load_config(environ=None, **overrides):
    """DEFAULTS, then the environment, then `overrides`; numbers converted, empty strings count as unset."""
    environ = os.environ if environ is None else environ
    config = dict(DEFAULTS)
    for key in DEFAULTS:
        value = environ.get(key)
        if value not in (None, ""):
            config[key] = value
    config.update(overrides)
    for key, kind in _NUMBERS.items():
        config[key] = kind(config[key])
    return config
