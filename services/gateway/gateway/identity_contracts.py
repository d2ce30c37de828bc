"""The identity service's wire contracts as the gateway's identity routes use them (routes_identity.py).

Request bodies and query strings are validated with identity's own RPC input schemas
(portal_contracts.identity_auth and identity_admin, found by RPC name in their RPC_SCHEMAS), so the gateway
refuses what the service would refuse and the OpenAPI document shows the same fields. The output schemas document
the answers, which are forwarded as the service serialised them.

Fields the gateway fills in itself (`remote_addr`: the caller's address, for throttling and the audit log) are
left out of the schema a client's body is validated with: a client cannot choose its own address (sending one is
a 422, like any unknown field), and the OpenAPI document does not show them.
"""
import functools

from portal_contracts import identity_admin, identity_auth

# rpc -> (input schema, output schema), from both halves of identity's contract
RPC_SCHEMAS = {**identity_auth.RPC_SCHEMAS, **identity_admin.RPC_SCHEMAS}

REMOTE_ADDR = "remote_addr"
GATEWAY_FIELDS = (REMOTE_ADDR,)  # what the gateway adds to a body; never taken from the client


def _schema(method, index):
    try:
        return RPC_SCHEMAS[method][index]
    except KeyError:
        raise LookupError("identity's wire contract (portal_contracts.identity_auth / identity_admin) has no "
                          "RPC %r" % method) from None


def _instance(schema):
    return schema() if isinstance(schema, type) else schema


def input_fields(method):
    """The field names of the RPC's input schema (empty when it takes none)."""
    schema = _schema(method, 0)
    return set(_instance(schema).fields) if schema is not None else set()


def wants_remote_addr(method):
    """The contract asks the gateway for the caller's address in this RPC's input."""
    return REMOTE_ADDR in input_fields(method)


def rpc_input(method, **modifiers):
    """The schema a client's body or query for the RPC is validated with: the RPC's input schema (an instance),
    without the fields the gateway fills in. `modifiers` (e.g. partial=...) go to the schema's constructor."""
    schema = _schema(method, 0)
    if schema is None:
        raise LookupError("identity's contract gives %s no input schema" % method)
    if not isinstance(schema, type):  # an instance in RPC_SCHEMAS: rebuild it with the modifiers
        modifiers.setdefault("many", schema.many)
        schema = type(schema)
    return client_schema(schema)(**modifiers)


@functools.cache
def client_schema(schema):
    """The contract's class without the fields the gateway fills in: a subclass of the same name (so the OpenAPI
    document names it as the contract does) whose Meta excludes them; sending one is an unknown field (422)."""
    left_out = tuple(name for name in GATEWAY_FIELDS if name in schema._declared_fields)
    if not left_out:
        return schema
    meta = type("Meta", (schema.Meta,), {"exclude": tuple(getattr(schema.Meta, "exclude", ())) + left_out})
    return type(schema.__name__, (schema,), {"Meta": meta, "__module__": schema.__module__,
                                             "__doc__": schema.__doc__})


def has_input(method):
    return _schema(method, 0) is not None


def rpc_output(method):
    """The schema the service answers the RPC with (documentation only), or None."""
    return _instance(_schema(method, 1))
