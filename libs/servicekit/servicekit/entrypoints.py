"""The kit's RPC entrypoint: commits the worker's transaction before the reply is sent.

Services use `servicekit.entrypoints.rpc` instead of `nameko.rpc.rpc`. Business errors are
expected (logged as warnings, sent to the caller as problem JSON); anything else is a bug.
"""
from nameko.rpc import Rpc as NamekoRpc

from servicekit.db import finish_transactions
from servicekit.errors import BusinessError


class Rpc(NamekoRpc):
    def __init__(self, expected_exceptions=BusinessError, **kwargs):
        super().__init__(expected_exceptions=expected_exceptions, **kwargs)

    def handle_result(self, message, worker_ctx, result, exc_info):
        exc_info = finish_transactions(worker_ctx, exc_info)
        if exc_info is not None:
            result = None
        return super().handle_result(message, worker_ctx, result, exc_info)


rpc = Rpc.decorator
