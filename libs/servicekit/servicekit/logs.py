"""JSON logs with the request id (pattern 12), and SSN masking (pattern 11).

Each line is one JSON object: ts (UTC ISO-8601), level, logger, message, service, request_id,
entrypoint, any `extra=` fields, and exc (the traceback) when there is one. The request id is the
gateway's, carried in nameko context data (`servicekit.context.REQUEST_ID`), so one id follows a
request through every RPC and event.

A service declares `log_context = RequestLogContext()`; it puts the worker's request id, service and
entrypoint in a context variable for the worker's duration. Context variables are per greenlet
(and per thread), so concurrent workers under eventlet do not see each other's ids. Code that runs
outside a worker (the events consumer's thread, the outbox relay) calls `set_request_id()`.

Services configure logging through nameko's `LOGGING` config key (passed to dictConfig by
`nameko run`), e.g. in config.yaml:

    LOGGING:
      version: 1
      disable_existing_loggers: false
      filters:
        mask_ssns: {"()": servicekit.logs.MaskSsnFilter}
      formatters:
        json: {"()": servicekit.logs.JsonFormatter, service: roster}
      handlers:
        console: {class: logging.StreamHandler, formatter: json, filters: [mask_ssns]}
      root: {level: INFO, handlers: [console]}

(`logging_config("roster")` returns the same dict.) SSNs must never reach a log: the JSON formatter
masks 9-digit SSN patterns in everything it writes, and `MaskSsnFilter` does the same for the
message of any other formatter (a developer's plain-text console).
"""
import contextvars
import json
import logging
import re
from datetime import datetime, timezone

from nameko.extensions import DependencyProvider

from servicekit.context import REQUEST_ID

# ###-##-####, ### ## ####, or 9 digits in a row, not part of a longer number.
# Not after a letter: member ids ("M" + 9 digits) and invoice numbers are not SSNs and logs need them.
_SSN = re.compile(r"(?<![\dA-Za-z])(?:\d{3}-\d{2}-\d{4}|\d{3} \d{2} \d{4}|\d{9})(?!\d)")
SSN_MASK = "***-**-****"

_context = contextvars.ContextVar("servicekit_log_context", default=None)

# The attributes every LogRecord has; anything else on a record came from `extra=`.
_RECORD_ATTRIBUTES = set(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime"}


def mask_ssns(text):
    return _SSN.sub(SSN_MASK, text)


def set_request_id(request_id, service=None, entrypoint=None):
    """Tag this thread's (greenlet's) log lines with a request id, outside a worker."""
    _context.set({"request_id": request_id, "service": service, "entrypoint": entrypoint})


def clear_request_id():
    _context.set(None)


def current_context():
    return _context.get() or {}


class MaskSsnFilter(logging.Filter):
    """Replaces SSN-looking numbers in the formatted message; the record keeps no args to re-expand."""

    def filter(self, record):
        message = record.getMessage()
        masked = mask_ssns(message)
        if masked != message:
            record.msg, record.args = masked, None
        return True


class JsonFormatter(logging.Formatter):
    def __init__(self, service=None, **kwargs):
        super().__init__(**kwargs)
        self.service = service

    def format(self, record):
        context = current_context()
        entry = {
            "ts": datetime.fromtimestamp(record.created, timezone.utc).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "service": context.get("service") or self.service,
            "request_id": context.get("request_id"),
        }
        if context.get("entrypoint"):
            entry["entrypoint"] = context["entrypoint"]
        for key, value in vars(record).items():
            if key not in _RECORD_ATTRIBUTES and key not in entry:
                entry[key] = value
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        elif record.exc_text:
            entry["exc"] = record.exc_text
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        # default=str: an extra that is a date or Decimal still logs. The whole line is masked, so an
        # SSN in an exception message or an extra is caught as well as one in the message.
        return mask_ssns(json.dumps(entry, default=str, ensure_ascii=False))


class RequestLogContext(DependencyProvider):
    """`log_context = RequestLogContext()`: log lines written by a worker carry its request id."""

    def worker_setup(self, worker_ctx):
        _context.set({
            "request_id": worker_ctx.data.get(REQUEST_ID),
            "service": self.container.service_name,
            "entrypoint": worker_ctx.entrypoint.method_name,
        })

    def worker_teardown(self, worker_ctx):
        # worker_setup and worker_teardown run in the worker's own greenlet, so this clears only its context.
        _context.set(None)


def logging_config(service, level="INFO"):
    """The LOGGING dict of the module docstring, for code that configures logging itself."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"mask_ssns": {"()": "servicekit.logs.MaskSsnFilter"}},
        "formatters": {"json": {"()": "servicekit.logs.JsonFormatter", "service": service}},
        "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "json", "filters": ["mask_ssns"]}},
        "root": {"level": level, "handlers": ["console"]},
    }
