"""Logs as one JSON object a line with the request id (ARCHITECTURE.md, pattern 12), using the kit's
JsonFormatter. gunicorn.conf.py installs `logging_config()` and `JsonAccessLogger`; the app tags each
request's log lines with its id (app.py: before_request / teardown_request)."""
from gunicorn.glogging import Logger
from servicekit.logs import clear_request_id, set_request_id

SERVICE = "gateway"


def logging_config(level="INFO"):
    """gunicorn's logconfig_dict: JSON lines; the access log on stdout, everything else on stderr."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"mask_ssns": {"()": "servicekit.logs.MaskSsnFilter"}},
        "formatters": {"json": {"()": "servicekit.logs.JsonFormatter", "service": SERVICE}},
        "handlers": {
            "stderr": {"class": "logging.StreamHandler", "formatter": "json", "filters": ["mask_ssns"],
                       "stream": "ext://sys.stderr"},
            "stdout": {"class": "logging.StreamHandler", "formatter": "json", "filters": ["mask_ssns"],
                       "stream": "ext://sys.stdout"},
        },
        "root": {"level": level, "handlers": ["stderr"]},
        "loggers": {
            "gunicorn.error": {"level": level, "handlers": ["stderr"], "propagate": False},
            "gunicorn.access": {"level": "INFO", "handlers": ["stdout"], "propagate": False},
            # py-amqp warns "Received method (60, 80) during closing channel" for the returned message
            # behind every call to a service that is not running (nameko's UnknownService): the
            # gateway already answers and logs that as a 503, so only amqp's errors are kept.
            "amqp": {"level": "ERROR"},
        },
    }


class JsonAccessLogger(Logger):
    """gunicorn's logger with one structured access record per request instead of Apache's format."""

    def access(self, resp, req, environ, request_time):
        if not self.access_log_enabled:
            return
        headers = {name.lower(): value for name, value in resp.headers}
        status = resp.status.split(None, 1)[0] if isinstance(resp.status, str) else resp.status
        method, path = environ.get("REQUEST_METHOD"), environ.get("PATH_INFO")
        set_request_id(headers.get("x-request-id"), service=SERVICE)
        try:
            self.access_log.info("%s %s %s", method, path, status, extra={
                "method": method,
                "path": path,
                "query": environ.get("QUERY_STRING") or None,
                "status": int(status),
                "duration_ms": round(request_time.total_seconds() * 1000, 3),
                "bytes": getattr(resp, "sent", None),
                "remote_addr": environ.get("REMOTE_ADDR"),
                "user_agent": environ.get("HTTP_USER_AGENT"),
            })
        except Exception:
            self.exception("writing the access log failed")
        finally:
            clear_request_id()
