"""Wire schemas of the billing service: auto pay (authorisation, the debit run and its NACHA file) and delinquency (stages, termination for non-payment) (issue 6)."""

RPC_SCHEMAS = {}
