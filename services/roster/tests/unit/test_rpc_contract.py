"""Every RPC the roster's wire contracts name (the gateway calls them by these names) is an RPC entrypoint of
RosterService, and every RPC entrypoint is in a contract: a method that lost its decorator answers the
gateway with MethodNotFound, a 500."""
from nameko.rpc import Rpc
from portal_contracts import (roster_care, roster_continuation, roster_groups, roster_life_event, roster_lifecycle,
                              roster_members, roster_renewal)

from roster.service import RosterService

CONTRACTS = (roster_groups, roster_members, roster_lifecycle, roster_life_event, roster_care, roster_continuation,
             roster_renewal)


def rpc_entrypoints():
    names = set()
    for name in dir(RosterService):
        entrypoints = getattr(getattr(RosterService, name), "nameko_entrypoints", ())
        if any(isinstance(entrypoint, Rpc) for entrypoint in entrypoints):
            names.add(name)
    return names


def test_the_contracts_and_the_service_name_the_same_rpcs():
    contracted = set().union(*(contract.RPC_SCHEMAS for contract in CONTRACTS))
    assert contracted - rpc_entrypoints() == set()
    assert rpc_entrypoints() - contracted == {"health"}  # the kit's, for the gateway's /health
