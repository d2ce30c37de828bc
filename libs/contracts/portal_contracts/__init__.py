"""Wire schemas of the services' RPCs (ARCHITECTURE.md: cross-service knowledge is the service name,
its RPC method names and the wire schemas of its RPCs and events).

The owning service loads its RPC input with these schemas at its boundary; the gateway validates HTTP
bodies with the same classes and generates the OpenAPI document from them. No service code lives here.
"""
