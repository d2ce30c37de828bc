"""Every example an event producer publishes loads in its own schema and in every consumer's copy.

Producers list their events in `<svc>.events.PUBLISHED`; consumers keep their own copy of what they
read in `<svc>.consumes.CONSUMED`, keyed by (source service, event type).
"""
import importlib

import pytest

SERVICES = ["identity", "roster", "billing", "messaging"]


def published():
    for service in SERVICES:
        try:
            module = importlib.import_module("%s.events" % service)
        except ModuleNotFoundError:
            continue
        for event_type, spec in module.PUBLISHED.items():
            yield service, event_type, spec


def consumed():
    for service in SERVICES:
        try:
            module = importlib.import_module("%s.consumes" % service)
        except ModuleNotFoundError:
            continue
        for (source, event_type), schema in module.CONSUMED.items():
            yield service, source, event_type, schema


PUBLISHED = list(published())
CONSUMED = list(consumed())


def test_there_are_contracts_to_check():
    assert PUBLISHED and CONSUMED


@pytest.mark.parametrize("service,event_type,spec", PUBLISHED, ids=lambda v: v if isinstance(v, str) else "")
def test_producer_example_loads_in_its_own_schema(service, event_type, spec):
    assert spec["schema"]().validate(spec["example"]) == {}
    assert isinstance(spec["version"], int)


@pytest.mark.parametrize("consumer,source,event_type,schema", CONSUMED, ids=lambda v: v if isinstance(v, str) else "")
def test_consumer_schema_loads_the_producer_example(consumer, source, event_type, schema):
    producer = {(service, name): spec for service, name, spec in PUBLISHED}
    assert (source, event_type) in producer, "%s consumes %s.%s, which nobody publishes" % (consumer, source, event_type)
    assert schema().validate(producer[(source, event_type)]["example"]) == {}


@pytest.mark.parametrize("event_type", ["user_deactivated", "password_changed", "sessions_revoked", "grant_changed"])
def test_every_service_can_read_identitys_revoking_events(event_type):
    """The kit's RevocationListener (in every service) takes the user and the time from these examples."""
    from servicekit.auth import REVOKING_EVENTS, revocation_from

    example = {service_event: spec for service, service_event, spec in PUBLISHED
               if service == "identity"}[event_type]["example"]
    assert event_type in REVOKING_EVENTS
    user_id, not_before = revocation_from({"event_type": event_type, "data": example})
    assert user_id == example["user_id"] and not_before.tzinfo is not None
