"""What the HTTP gateway costs on top of a bare nameko RPC, measured against the running stack.

    make run                      # in another terminal: the whole stack on this machine
    make bench                    # or: .venv/bin/python bench/rpc_vs_gateway.py [options]

Rows:
  bare RPC roster.health            1 client: nameko's standalone ClusterRpcProxy, sequential calls
  bare RPC identity.list_roles      1 and N clients, one proxy per client thread
  gateway GET /api/v1/roles         1 and N clients, one requests.Session per client thread
                                    (the gateway makes exactly one RPC, identity.list_roles)
Each row stops after --calls calls or --seconds seconds, whichever comes first, after a short
warm-up per client that is not measured. Then the ratio gateway / bare for the same RPC.

This is a plain threaded client, like the gateway itself: it never imports eventlet itself and
never monkey-patches (nameko's standalone proxy imports eventlet's modules but patches nothing;
`main` checks that). Loopback only: the bench refuses another host.
"""
import argparse
import ipaddress
import os
import socket
import sys
import threading
import time
import warnings
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import requests
from kombu import Connection

# nameko imports eventlet, which warns on import that it is deprecated: noise for a bench that never uses it
warnings.filterwarnings("ignore", message=r"\s*Eventlet is deprecated")
from nameko.exceptions import RemoteError, RpcTimeout, UnknownService
from nameko.standalone.rpc import ClusterRpcProxy

DEFAULT_AMQP_URI = "amqp://guest:guest@localhost:5672/"  # the services' config.yaml default
ROLES_PATH = "/api/v1/roles"
STACK_HINT = "Start the stack first (`make run`, or `docker compose up`) and run the bench again."
EXIT_STACK_DOWN = 2
EXIT_CALLS_FAILED = 1


class StackNotRunning(Exception):
    """The broker, a service or the gateway does not answer: nothing to measure."""


# ---------------------------------------------------------------- measuring

@dataclass
class Row:
    label: str
    clients: int
    latencies: list = field(default_factory=list)  # seconds, successful calls only
    errors: int = 0
    first_error: str = ""
    elapsed: float = 0.0

    @property
    def calls(self):
        return len(self.latencies)

    def percentile(self, fraction):
        """Nearest-rank percentile in milliseconds."""
        if not self.latencies:
            return float("nan")
        ordered = sorted(self.latencies)
        rank = max(1, min(len(ordered), int(round(fraction * len(ordered) + 0.5))))
        return ordered[rank - 1] * 1000.0

    @property
    def rate(self):
        return self.calls / self.elapsed if self.elapsed > 0 else float("nan")


def measure(label, clients, open_client, max_calls, max_seconds, warmup):
    """Run `clients` threads, each with its own client from `open_client()` -> (call, close).

    The calls are shared out until `max_calls` have been made or `max_seconds` have passed; every
    thread warms up first (connection, reply queue) and all start measuring together.
    """
    row = Row(label, clients)
    lock = threading.Lock()
    issued = [0]
    clock = {}

    def start_clock():
        clock["start"] = time.perf_counter()
        clock["deadline"] = clock["start"] + max_seconds

    barrier = threading.Barrier(clients, action=start_clock)

    def fail(exc):
        with lock:
            row.errors += 1
            if not row.first_error:
                row.first_error = "%s: %s" % (type(exc).__name__, exc)

    def take_call():
        with lock:
            if issued[0] >= max_calls:
                return False
            issued[0] += 1
            return True

    def client():
        close = None
        try:
            call, close = open_client()
            for _ in range(warmup):
                call()
            barrier.wait(timeout=max_seconds + 60)
        except threading.BrokenBarrierError:  # another client failed to warm up: the row is off
            if close is not None:
                close()
            return
        except Exception as exc:  # a client that cannot even warm up stops the whole row
            fail(exc)
            barrier.abort()
            if close is not None:
                close()
            return
        latencies = []
        try:
            while time.perf_counter() < clock["deadline"] and take_call():
                began = time.perf_counter()
                try:
                    call()
                except Exception as exc:
                    fail(exc)
                    continue
                latencies.append(time.perf_counter() - began)
        finally:
            with lock:
                row.latencies.extend(latencies)
            close()

    threads = [threading.Thread(target=client, name="bench-%d" % index, daemon=True) for index in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=max_seconds + 120)
    finished = time.perf_counter()
    if "start" in clock:
        row.elapsed = finished - clock["start"]
    if any(thread.is_alive() for thread in threads):
        fail(RuntimeError("a client thread did not finish in time"))
    return row


def rpc_client(amqp_uri, service, method, timeout):
    """A client factory: a ClusterRpcProxy of its own per thread, as the gateway keeps one per thread."""
    def open_client():
        proxy = ClusterRpcProxy({"AMQP_URI": amqp_uri}, timeout=timeout)
        cluster = proxy.start()
        return getattr(getattr(cluster, service), method), proxy.stop
    return open_client


class UnexpectedStatus(Exception):
    pass


def http_client(url, timeout):
    """A client factory: a requests.Session of its own per thread (keep-alive, like a browser)."""
    def open_client():
        session = requests.Session()

        def call():
            response = session.get(url, timeout=timeout)
            if response.status_code != 200:
                raise UnexpectedStatus("%s answered %d" % (url, response.status_code))
            return response.content
        return call, session.close
    return open_client


# ---------------------------------------------------------------- the stack must be there

def redact(uri):
    parts = urlsplit(uri)
    if parts.password:
        return uri.replace(":%s@" % parts.password, ":***@", 1)
    return uri


def require_loopback(what, url):
    host = urlsplit(url).hostname or ""
    try:
        addresses = {info[4][0] for info in socket.getaddrinfo(host, None)}
    except socket.gaierror as exc:
        raise SystemExit("%s %s: cannot resolve %r (%s)" % (what, url, host, exc))
    if not addresses or not all(ipaddress.ip_address(address.split("%")[0]).is_loopback for address in addresses):
        raise SystemExit("%s %s is not on this machine: the bench only loads loopback addresses" % (what, redact(url)))


def check_stack(args):
    """Fail fast, and say what is missing, when the stack is not running."""
    try:
        with Connection(args.amqp_uri, connect_timeout=3) as connection:
            connection.connect()
    except Exception as exc:
        raise StackNotRunning("RabbitMQ does not answer at %s (%s)." % (redact(args.amqp_uri), exc))

    for service, method in (("roster", "health"), ("identity", "list_roles")):
        try:
            with ClusterRpcProxy({"AMQP_URI": args.amqp_uri}, timeout=args.timeout) as cluster:
                getattr(getattr(cluster, service), method)()
        except UnknownService:
            raise StackNotRunning("the %s service is not running (nothing consumes its RPC queue)." % service)
        except RpcTimeout:
            raise StackNotRunning("%s.%s did not answer within %ss: is the %s service running?"
                                  % (service, method, args.timeout, service))
        except RemoteError as exc:
            raise StackNotRunning("%s.%s failed: %s %s" % (service, method, exc.exc_type, exc.value))

    try:
        health = requests.get(args.url + "/health", timeout=args.timeout)
    except requests.RequestException as exc:
        raise StackNotRunning("the gateway does not answer at %s (%s)." % (args.url, type(exc).__name__))
    if health.status_code != 200:
        raise StackNotRunning("the gateway's /health answered %d: %s" % (health.status_code, health.text[:300]))
    roles = requests.get(args.url + ROLES_PATH, timeout=args.timeout)
    if roles.status_code != 200:
        raise StackNotRunning("GET %s answered %d: %s" % (ROLES_PATH, roles.status_code, roles.text[:300]))


def assert_not_monkey_patched():
    """The gateway runs without eventlet's patches; so must its bench, or it measures something else."""
    if socket.socket.__module__ != "socket" or time.sleep.__module__ != "time" \
            or threading.Lock.__module__ not in ("_thread", "threading"):
        raise SystemExit("the standard library is monkey-patched: run the bench as a plain script")


# ---------------------------------------------------------------- report

def print_table(rows, out):
    header = "%-34s %7s %7s %6s %9s %9s %9s" % ("what", "clients", "calls", "errors", "p50 ms", "p95 ms", "req/s")
    print(header, file=out)
    print("-" * len(header), file=out)
    for row in rows:
        print("%-34s %7d %7d %6d %9.2f %9.2f %9.1f" % (
            row.label, row.clients, row.calls, row.errors, row.percentile(0.50), row.percentile(0.95), row.rate),
            file=out)


def print_ratios(pairs, out):
    print("\ngateway / bare RPC, identity.list_roles (latency > 1 and throughput < 1 is the gateway's cost):",
          file=out)
    for clients, bare, gateway in pairs:
        print("  %2d client%s  p50 x%.2f   p95 x%.2f   req/s x%.2f" % (
            clients, " " if clients == 1 else "s", gateway.percentile(0.50) / bare.percentile(0.50),
            gateway.percentile(0.95) / bare.percentile(0.95), gateway.rate / bare.rate), file=out)


def parse_args(argv):
    parser = argparse.ArgumentParser(
        description="Bare nameko RPC vs the same call through the HTTP gateway, against the running stack.")
    parser.add_argument("--url", default="http://127.0.0.1:8080", help="the gateway (default %(default)s)")
    parser.add_argument("--amqp-uri", default=os.environ.get("AMQP_URI", DEFAULT_AMQP_URI),
                        help="the broker the services use (default: $AMQP_URI, else %s)" % DEFAULT_AMQP_URI)
    parser.add_argument("--calls", type=int, default=2000, help="at most this many calls per row (default 2000)")
    parser.add_argument("--seconds", type=float, default=10.0, help="at most this long per row (default 10)")
    parser.add_argument("--concurrency", type=int, default=16, help="clients of the concurrent rows (default 16)")
    parser.add_argument("--warmup", type=int, default=20, help="unmeasured calls per client first (default 20)")
    parser.add_argument("--timeout", type=float, default=5.0, help="per call, seconds (default 5)")
    args = parser.parse_args(argv)
    args.url = args.url.rstrip("/")
    if args.calls < 1 or args.seconds <= 0 or args.concurrency < 1 or args.warmup < 0:
        parser.error("--calls, --seconds and --concurrency must be positive, --warmup not negative")
    return args


def main(argv=None, out=sys.stdout):
    args = parse_args(argv)
    assert_not_monkey_patched()
    require_loopback("gateway", args.url)
    require_loopback("broker", args.amqp_uri)
    try:
        check_stack(args)
    except StackNotRunning as exc:
        print("The stack is not running: %s\n%s" % (exc, STACK_HINT), file=sys.stderr)
        return EXIT_STACK_DOWN

    bounds = dict(max_calls=args.calls, max_seconds=args.seconds, warmup=args.warmup)
    health = rpc_client(args.amqp_uri, "roster", "health", args.timeout)
    bare = rpc_client(args.amqp_uri, "identity", "list_roles", args.timeout)
    gateway = http_client(args.url + ROLES_PATH, args.timeout)
    print("bench: at most %d calls or %gs per row, against %s and %s" % (
        args.calls, args.seconds, args.url, redact(args.amqp_uri)), file=out)
    rows, pairs = [measure("bare RPC roster.health", 1, health, **bounds)], []
    for clients in (1, args.concurrency):
        bare_row = measure("bare RPC identity.list_roles", clients, bare, **bounds)
        gateway_row = measure("gateway GET %s" % ROLES_PATH, clients, gateway, **bounds)
        rows += [bare_row, gateway_row]
        pairs.append((clients, bare_row, gateway_row))
    print(file=out)
    print_table(rows, out)
    if all(row.calls for row in rows):
        print_ratios(pairs, out)
    failed = [row for row in rows if row.errors or not row.calls]
    for row in failed:
        print("\n%s with %d client(s): %d call(s) failed; first: %s" % (
            row.label, row.clients, row.errors, row.first_error or "no call completed"), file=sys.stderr)
    return EXIT_CALLS_FAILED if failed else 0


if __name__ == "__main__":
    sys.exit(main())
