"""The billing service's wire contracts as the gateway's billing routes use them (routes_billing_*.py): bodies
and query strings are validated with billing's own RPC input schemas (portal_contracts.billing_*, found by RPC
name), and the output schemas document the answers, forwarded as the service serialised them."""
from portal_contracts import billing_autopay, billing_invoice, billing_payment, billing_setup, billing_statement

# rpc -> (input schema, output schema), from every part of billing's contract
RPC_SCHEMAS = {**billing_setup.RPC_SCHEMAS, **billing_statement.RPC_SCHEMAS, **billing_invoice.RPC_SCHEMAS,
               **billing_payment.RPC_SCHEMAS, **billing_autopay.RPC_SCHEMAS}


def _instance(schema):
    return schema() if isinstance(schema, type) else schema


def rpc_input(method):
    """The schema of the RPC's JSON argument (an instance: a list input keeps its many=True)."""
    schema = RPC_SCHEMAS[method][0]
    if schema is None:
        raise LookupError("the billing contract gives %s no input schema" % method)
    return _instance(schema)


def rpc_output(method):
    """The schema the service answers the RPC with (documentation only), or None."""
    return _instance(RPC_SCHEMAS[method][1])
