"""What travels with every call: nameko context data keys set by the gateway and forwarded by services.

The gateway puts these into the RPC's context data (headers `nameko.<key>`); nameko copies them
into every RPC and event a worker makes, and the outbox copies `request_id` into event envelopes.
"""
AUTHORIZATION = "authorization"      # the caller's access token (no "Bearer " prefix)
REQUEST_ID = "request_id"            # the gateway's request id, for logs end to end
IDEMPOTENCY_KEY = "idempotency_key"  # the client's Idempotency-Key, else the request id


def context_value(worker_ctx, key):
    return worker_ctx.data.get(key)
