"""The shared kit of the benefits portal's services.

One module per pattern of ARCHITECTURE.md; services import what they need:
config, db, tables, errors, context, outbox, events, idempotency, jobs, clock,
auth, roles, crypto, metrics, logs, mail, testing.
"""
