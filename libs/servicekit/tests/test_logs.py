"""JSON log lines with the request id of the worker that wrote them, and SSNs masked wherever they hide."""
import io
import json
import logging
import subprocess
import sys
import textwrap
from datetime import date, datetime, timezone

import eventlet
import pytest
import yaml
from nameko.standalone.rpc import ServiceRpcProxy

from servicekit import logs
from servicekit.context import REQUEST_ID
from servicekit.entrypoints import rpc
from servicekit.logs import (JsonFormatter, MaskSsnFilter, RequestLogContext, clear_request_id, logging_config,
                             mask_ssns, set_request_id)


@pytest.fixture
def log_lines():
    """Captures one logger's output through JsonFormatter; call it to get the parsed lines."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter(service="roster"))
    logger = logging.getLogger("servicekit_logs_test")
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    clear_request_id()
    yield lambda: [json.loads(line) for line in stream.getvalue().splitlines()]
    logger.removeHandler(handler)
    clear_request_id()


log = logging.getLogger("servicekit_logs_test")


def test_one_json_object_per_line(log_lines):
    log.info("invoice %s issued", "INV-1", extra={"as_of": date(2026, 3, 1), "amount": "12.50"})
    log.warning("second\nline")
    first, second = log_lines()
    assert first["level"] == "INFO" and first["logger"] == "servicekit_logs_test"
    assert first["message"] == "invoice INV-1 issued"
    assert first["service"] == "roster" and first["request_id"] is None
    assert first["as_of"] == "2026-03-01" and first["amount"] == "12.50"
    ts = datetime.fromisoformat(first["ts"])
    assert ts.utcoffset().total_seconds() == 0
    assert abs((datetime.now(timezone.utc) - ts).total_seconds()) < 5
    assert second["message"] == "second\nline"  # an embedded newline stays inside one JSON line
    assert "exc" not in first


def test_exception_is_included(log_lines):
    try:
        raise KeyError("plan-42")
    except KeyError:
        log.exception("lookup failed")
    [line] = log_lines()
    assert line["level"] == "ERROR"
    assert "Traceback" in line["exc"] and "plan-42" in line["exc"]


@pytest.mark.parametrize("text", ["123-45-6789", "123456789", "123 45 6789", "ssn=123456789;"])
def test_ssn_patterns_are_masked(text):
    masked = mask_ssns("member %s enrolled" % text)
    assert "6789" not in masked and "***-**-****" in masked


@pytest.mark.parametrize("text", ["1234567890", "12345678", "2026-03-01", "12-345-6789", "INV-2026-000123", "M123456789"])
def test_other_numbers_are_left_alone(text):
    assert mask_ssns(text) == text


def test_ssns_never_reach_a_json_line(log_lines):
    log.info("enrolling %s", "123-45-6789", extra={"ssn_given": "987654321"})
    try:
        raise ValueError("duplicate SSN 111-22-3333 in group 77")
    except ValueError:
        log.exception("rejected")
    enrol, rejected = log_lines()
    assert enrol["message"] == "enrolling ***-**-****"
    assert enrol["ssn_given"] == "***-**-****"
    assert "3333" not in rejected["exc"] and "group 77" in rejected["exc"]


def test_mask_filter_protects_plain_text_formatters():
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
    handler.addFilter(MaskSsnFilter())
    logger = logging.getLogger("servicekit_logs_test_plain")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        logger.warning("dependent %s has ssn %s", "Ann", "123456789")
        logger.warning("nothing secret %d", 5)
    finally:
        logger.removeHandler(handler)
    assert stream.getvalue().splitlines() == ["WARNING dependent Ann has ssn ***-**-****", "WARNING nothing secret 5"]


def test_set_request_id_for_code_outside_workers(log_lines):
    set_request_id("req-relay", service="billing")
    log.info("published")
    clear_request_id()
    log.info("idle")
    published, idle = log_lines()
    assert (published["request_id"], published["service"]) == ("req-relay", "billing")
    assert (idle["request_id"], idle["service"]) == (None, "roster")


def test_request_ids_do_not_leak_between_green_threads(log_lines):
    def handle(request_id):
        set_request_id(request_id)
        for step in range(3):
            log.info("step %d", step)
            eventlet.sleep(0.01)  # let the other green thread log in between

    eventlet.spawn(handle, "req-a"), eventlet.spawn(handle, "req-b")
    eventlet.sleep(0.2)
    lines = log_lines()
    assert len(lines) == 6
    assert {line["request_id"] for line in lines} == {"req-a", "req-b"}
    assert [line["request_id"] for line in lines][:2] == ["req-a", "req-b"]  # really interleaved
    assert sum(line["request_id"] == "req-a" for line in lines) == 3


class LoggingService:
    name = "logging_test"
    log_context = RequestLogContext()

    @rpc
    def enrol(self, delay):
        log.info("enrolling")
        eventlet.sleep(delay)
        log.info("enrolled")


def test_worker_lines_carry_the_request_id_entrypoint_and_service(container_factory, rabbit_config, log_lines):
    container = container_factory(LoggingService, rabbit_config)
    container.start()

    def call(request_id, delay):
        # Over real RPC, as the gateway calls: the request id travels in the context data headers.
        with ServiceRpcProxy("logging_test", rabbit_config, context_data={REQUEST_ID: request_id}) as proxy:
            proxy.enrol(delay)

    # Two workers overlapping: each line must carry its own worker's id.
    slow = eventlet.spawn(call, "req-slow", 0.5)
    eventlet.sleep(0.2)  # the slow worker has logged "enrolling" and is waiting
    call("req-fast", 0.0)
    slow.wait()
    log.info("after the workers")

    lines = log_lines()
    by_request = {}
    for line in lines[:-1]:
        by_request.setdefault(line["request_id"], []).append(line["message"])
        assert (line["service"], line["entrypoint"]) == ("logging_test", "enrol")
    assert by_request == {"req-slow": ["enrolling", "enrolled"], "req-fast": ["enrolling", "enrolled"]}
    assert [line["request_id"] for line in lines[:3]] == ["req-slow", "req-fast", "req-fast"]
    assert lines[-1]["request_id"] is None and "entrypoint" not in lines[-1]


def test_the_documented_logging_config_is_the_one_logging_config_returns():
    docstring = logs.__doc__
    block = docstring[docstring.index("    LOGGING:"):docstring.index("(`logging_config")]
    assert yaml.safe_load(textwrap.dedent(block))["LOGGING"] == logging_config("roster")


def test_logging_config_works_with_dict_config():
    # In a fresh interpreter, as `nameko run` applies LOGGING: dictConfig replaces every handler
    # of the process, which must not happen to the test run's own logging.
    script = (
        "import logging, logging.config\n"
        "from servicekit.logs import logging_config\n"
        "logging.config.dictConfig(logging_config('messaging'))\n"
        "logging.getLogger('notices').info('notice for %s sent', '123-45-6789')\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    [line] = [json.loads(text) for text in result.stderr.splitlines() if text.startswith("{")]
    assert (line["service"], line["logger"], line["level"]) == ("messaging", "notices", "INFO")
    assert line["message"] == "notice for ***-**-**** sent"
