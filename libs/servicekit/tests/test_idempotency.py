"""Idempotent commands through a real service (RabbitMQ RPC; PostgreSQL and SQLite): a retried call never
acts twice, a reused key with another body is 422, a concurrent duplicate is 409, a failure frees the key."""
import time
import uuid
from datetime import datetime, timedelta, timezone

import eventlet
import pytest
from nameko.exceptions import IncorrectSignature, RemoteError
from nameko.standalone.rpc import ServiceRpcProxy
from sqlalchemy import Column, Integer, MetaData, String, Table, func, select

from servicekit import tables
from servicekit.auth import CallerProvider
from servicekit.db import Database, make_engine
from servicekit.entrypoints import rpc
from servicekit.errors import Conflict, problem_from_remote
from servicekit.idempotency import idempotent, request_hash, scope_hash
from servicekit.testing import wait_for
from servicekit.testing.tokens import grant, mint_token, test_config

test_metadata = MetaData()
payments = Table(
    "test_payments", test_metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("account", String(20), nullable=False),
    Column("amount", String(20), nullable=False),
    Column("paid_by", String(40)),
)

failures_to_come = []  # the service fails while this holds anything (same process as the container)


class PaymentsService:
    name = "payments"
    db = Database()
    caller = CallerProvider()

    @rpc
    @idempotent()  # the target is the first argument: the account
    def pay(self, account, amount, wait=0):
        if wait:
            eventlet.sleep(wait)  # a slow bank, before any write: lets a duplicate arrive meanwhile
        if failures_to_come:
            failures_to_come.pop()
            raise Conflict("the bank declined")
        self.db.execute(payments.insert().values(account=account, amount=amount, paid_by=self.caller.actor_id))
        return {"payment": uuid.uuid4().hex, "account": account, "amount": amount}

    @rpc
    @idempotent(target=lambda group, request: "%s/%s" % (group, request["member"]))
    def request_id_card(self, group, request):
        self.db.execute(payments.insert().values(account=group, amount="0.00", paid_by=request["member"]))
        return {"request": uuid.uuid4().hex}

    @rpc
    @idempotent()
    def pay_with_bad_response(self, account):
        self.db.execute(payments.insert().values(account=account, amount="1.00"))
        return {account}  # a set is not JSON: must fail, undo the effect and free the key


@pytest.fixture(params=["kit_db_url", "sqlite_kit_db_url"])
def database_url(request):
    url = request.getfixturevalue(request.param)
    engine = make_engine(url)
    test_metadata.create_all(engine)
    engine.dispose()
    return url


@pytest.fixture
def service(container_factory, rabbit_config, database_url):
    config = test_config(AMQP_URI=rabbit_config["AMQP_URI"], DATABASE_URL=database_url)
    container = container_factory(PaymentsService, config)
    container.start()
    engine = make_engine(database_url)

    def call(method, *args, key=None, user="u-1", **kwargs):
        context = {}
        if key is not None:
            context["idempotency_key"] = key
        if user is not None:
            context["authorization"] = mint_token(user, [grant("G1", "billing_manager")])
        with ServiceRpcProxy("payments", config, context_data=context, timeout=15) as proxy:
            return getattr(proxy, method)(*args, **kwargs)

    def count(**where):
        query = select(func.count()).select_from(payments)
        for column, value in where.items():
            query = query.where(payments.c[column] == value)
        with engine.connect() as connection:
            return connection.execute(query).scalar()

    def key_rows():
        with engine.connect() as connection:
            return connection.execute(select(tables.idempotency_keys)).mappings().all()

    call.count, call.key_rows, call.engine = count, key_rows, engine
    failures_to_come.clear()
    yield call
    failures_to_come.clear()
    engine.dispose()


def problem_of(caught, exc_type, code, status):
    assert caught.value.exc_type == exc_type, caught.value
    problem = problem_from_remote(caught.value.value)
    assert problem["code"] == code and problem["status"] == status, problem
    return problem


def test_same_key_and_body_returns_the_stored_response_and_acts_once(service):
    first = service("pay", "A1", "100.00", key="k1")
    assert service("pay", "A1", "100.00", key="k1") == first
    # the same body spelt with keywords is the same request
    assert service("pay", account="A1", amount="100.00", key="k1") == first
    assert service.count() == 1
    [row] = service.key_rows()
    assert row["status"] == "done" and row["caller"] == "u-1" and row["method"] == "payments.pay"
    assert row["target"] == "A1"


def test_same_key_with_another_body_is_refused_with_422(service):
    service("pay", "A1", "100.00", key="k1")
    with pytest.raises(RemoteError) as caught:
        service("pay", "A1", "999.00", key="k1")
    problem_of(caught, "IdempotencyKeyReused", "idempotency_key_reused", 422)
    assert service.count() == 1


def test_a_duplicate_while_the_first_is_running_is_refused_with_409(service):
    first = eventlet.spawn(service, "pay", "A1", "100.00", wait=1.5, key="k1")
    wait_for(lambda: service.key_rows(), message="the first call to claim its key")
    started = time.monotonic()
    with pytest.raises(RemoteError) as caught:
        service("pay", "A1", "100.00", wait=1.5, key="k1")
    assert time.monotonic() - started < 1.0  # answered at once, not after the first finished
    problem_of(caught, "RequestInFlight", "request_in_flight", 409)
    response = first.wait()
    assert service("pay", "A1", "100.00", wait=1.5, key="k1") == response  # now finished: the stored answer
    assert service.count() == 1


def test_a_failed_call_frees_its_key_for_a_retry(service):
    failures_to_come.append("declined")
    with pytest.raises(RemoteError) as caught:
        service("pay", "A1", "100.00", key="k1")
    problem_of(caught, "Conflict", "conflict", 409)
    assert service.key_rows() == [] and service.count() == 0
    retried = service("pay", "A1", "100.00", key="k1")
    assert retried["amount"] == "100.00" and service.count() == 1


def test_a_response_that_is_not_json_undoes_the_effect_and_frees_the_key(service):
    with pytest.raises(RemoteError) as caught:
        service("pay_with_bad_response", "A1", key="k1")
    assert caught.value.exc_type == "TypeError"
    assert service.count() == 0 and service.key_rows() == []


def test_keys_are_scoped_by_caller_method_and_target(service):
    mine = service("pay", "A1", "100.00", key="k1")
    # another caller may use the same key, even with another body
    theirs = service("pay", "A1", "50.00", key="k1", user="u-2")
    # so may anonymous callers, which share one scope
    anonymous = service("pay", "A1", "10.00", key="k1", user=None)
    assert service("pay", "A1", "10.00", key="k1", user=None) == anonymous
    # the same caller on another target
    other_account = service("pay", "A2", "100.00", key="k1")
    assert len({mine["payment"], theirs["payment"], anonymous["payment"], other_account["payment"]}) == 4
    assert service.count() == 4 and service.count(paid_by="u-2") == 1
    # another method with the same key and target
    card = service("request_id_card", "A1", {"member": "M1"}, key="k1")
    # a target function: same group, another member -> separate; same member -> replay
    assert service("request_id_card", "A1", {"member": "M2"}, key="k1") != card
    assert service("request_id_card", "A1", {"member": "M1"}, key="k1") == card
    assert {row["target"] for row in service.key_rows() if row["method"] == "payments.request_id_card"} == \
        {"A1/M1", "A1/M2"}


def test_a_call_without_a_key_is_refused(service):
    with pytest.raises(RemoteError) as caught:
        service("pay", "A1", "100.00")
    problem_of(caught, "IdempotencyKeyMissing", "idempotency_key_missing", 400)
    assert service.count() == 0


def test_a_wrong_signature_is_still_reported_as_one(service):
    # the wrapper's (*args, **kwargs) must not hide the method's signature from nameko's check
    with pytest.raises(IncorrectSignature):
        service("pay", "A1", key="k1")
    assert service.key_rows() == []


def test_a_claim_older_than_the_lease_is_taken_over_a_younger_one_is_not(service):
    arguments = {"account": "A1", "amount": "100.00", "wait": 0}
    now = datetime.now(timezone.utc)
    with service.engine.begin() as connection:
        for key, age in (("k-dead", 120), ("k-alive", 5)):
            connection.execute(tables.idempotency_keys.insert().values(
                scope_hash=scope_hash("u-1", "payments.pay", "A1", key), caller="u-1", method="payments.pay",
                target="A1", request_hash=request_hash(arguments), status="in_flight",
                created_at=now - timedelta(seconds=age), updated_at=now - timedelta(seconds=age)))
    assert service("pay", "A1", "100.00", key="k-dead")["amount"] == "100.00"
    with pytest.raises(RemoteError) as caught:
        service("pay", "A1", "100.00", key="k-alive")
    problem_of(caught, "RequestInFlight", "request_in_flight", 409)
    assert service.count() == 1
    assert {row["status"] for row in service.key_rows()} == {"done", "in_flight"}


def test_the_stored_request_hash_is_keyed_so_a_leaked_table_cannot_test_guesses():
    from servicekit.idempotency import request_hash

    arguments = {"change": {"current_password": "correct horse battery"}}
    plain = request_hash(arguments)
    keyed = request_hash(arguments, "service-hash-key")
    assert keyed != plain and keyed == request_hash(arguments, "service-hash-key")
    assert keyed != request_hash(arguments, "another-key")
