"""Start and stop the whole portal on one machine: `make run`, `make stop`, and the end-to-end tests use this.

    python scripts/portalctl.py up [--demo]   migrate, declare queues, start services + gateway, wait for
                                              /health, (load the demo data through the gateway's API)
    python scripts/portalctl.py down          stop what `up` started
    python scripts/portalctl.py status

Everything it writes lives under VAR_DIR (default ./var): keys/, log/, run/ (pid files), mail/,
and the SQLite databases unless <SVC>_DATABASE_URL points elsewhere. Environment overrides:
AMQP_URI, <SVC>_DATABASE_URL, PORT (gateway, default 8080), <SVC>_METRICS_PORT, VAR_DIR.
"""
import argparse
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
import warnings

# nameko (imported through the kit for key generation) warns about eventlet and pkg_resources on
# import: true, known (ARCHITECTURE.md pins both), and only noise for someone running `make run`.
warnings.filterwarnings("ignore", message=r"\s*Eventlet is deprecated")
warnings.filterwarnings("ignore", message="pkg_resources is deprecated")

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.dirname(sys.executable)
SERVICES = {
    "identity": "identity.service",
    "roster": "roster.service",
    "billing": "billing.service",
    "messaging": "messaging.service",
}
SERVICE_CLASSES = {
    "identity": "IdentityService", "roster": "RosterService",
    "billing": "BillingService", "messaging": "MessagingService",
}


def var_dir():
    return os.path.abspath(os.environ.get("VAR_DIR", os.path.join(ROOT, "var")))


def gateway_url():
    return "http://127.0.0.1:%s" % os.environ.get("PORT", "8080")


def say(message):
    print("portal: %s" % message, flush=True)


# --- the broker -------------------------------------------------------------------------------

def broker_address():
    uri = urllib.parse.urlparse(os.environ.get("AMQP_URI", "amqp://guest:guest@localhost:5672/"))
    return uri.hostname or "localhost", uri.port or 5672


def port_open(host, port, timeout=1.0):
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def ensure_rabbitmq():
    host, port = broker_address()
    if port_open(host, port):
        return
    if host in ("localhost", "127.0.0.1") and shutil.which("rabbitmq-server"):
        say("RabbitMQ is not answering on %s:%s; starting the local rabbitmq-server" % (host, port))
        subprocess.run(["rabbitmq-server", "-detached"], check=False)
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            if port_open(host, port):
                return
            time.sleep(1)
    sys.exit(
        "portal: RabbitMQ does not answer at %s:%s.\n"
        "  Install and start it:   sudo apt-get install rabbitmq-server && sudo rabbitmq-server -detached\n"
        "  or point AMQP_URI at a running broker (e.g. amqp://guest:guest@otherhost:5672/)." % (host, port))


# --- keys ---------------------------------------------------------------------------------------

def ensure_dev_keys(env):
    """Development keys, made once per checkout under var/keys (production injects its own)."""
    from servicekit.auth import generate_keypair
    from servicekit.crypto import generate_key

    keys = os.path.join(var_dir(), "keys")
    os.makedirs(keys, mode=0o700, exist_ok=True)
    private, public = os.path.join(keys, "token_private.pem"), os.path.join(keys, "token_public.pem")
    if not os.path.exists(private):
        private_pem, public_pem = generate_keypair()
        for path, pem in ((private, private_pem), (public, public_pem)):
            with open(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as handle:
                handle.write(pem)
    secrets_file = os.path.join(keys, "field-keys.env")
    if not os.path.exists(secrets_file):
        with open(os.open(secrets_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as handle:
            handle.write("FIELD_ENCRYPTION_KEY=%s\nFIELD_HASH_KEY=%s\n" % (generate_key(), generate_key()))
    with open(secrets_file) as handle:
        for line in handle:
            name, _, value = line.strip().partition("=")
            env.setdefault(name, value)
    env.setdefault("TOKEN_PUBLIC_KEY_FILE", public)
    env.setdefault("TOKEN_PRIVATE_KEY_FILE", private)


def stack_env():
    env = dict(os.environ)
    env.setdefault("MAIL_DIR", os.path.join(var_dir(), "mail"))
    for service in SERVICES:
        env.setdefault("%s_DATABASE_URL" % service.upper(), "sqlite:///%s" % os.path.join(var_dir(), service + ".db"))
    ensure_dev_keys(env)
    return env


# --- processes ----------------------------------------------------------------------------------

def pid_file(name):
    return os.path.join(var_dir(), "run", name + ".pid")


def log_file(name):
    return os.path.join(var_dir(), "log", name + ".log")


def running_pid(name):
    try:
        with open(pid_file(name)) as handle:
            pid = int(handle.read().strip())
        os.kill(pid, 0)
        return pid
    except (OSError, ValueError):
        return None


def spawn(name, argv, env):
    os.makedirs(os.path.dirname(pid_file(name)), exist_ok=True)
    os.makedirs(os.path.dirname(log_file(name)), exist_ok=True)
    log = open(log_file(name), "ab")
    process = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                               stdin=subprocess.DEVNULL, start_new_session=True)
    with open(pid_file(name), "w") as handle:
        handle.write(str(process.pid))
    return process.pid


def run_step(description, argv, env):
    result = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True)
    if result.returncode != 0:
        sys.exit("portal: %s failed:\n%s%s" % (description, result.stdout, result.stderr))


def migrate(env):
    for service in SERVICES:
        run_step("migrating %s" % service,
                 [os.path.join(BIN, "alembic"), "-c", "services/%s/alembic.ini" % service, "upgrade", "head"], env)


def declare_queues(env):
    """Consumer queues exist before any service publishes, so no event is dropped (ARCHITECTURE.md)."""
    for service, module in SERVICES.items():
        run_step("declaring %s's queues" % service,
                 [sys.executable, "-m", "servicekit.events", "declare", "--config",
                  "services/%s/config.yaml" % service, "--service", "%s:%s" % (module, SERVICE_CLASSES[service])],
                 env)


def start_service(service, env=None):
    env = env or stack_env()
    # module:Class, because `nameko run module` would also try to run the imported PortalService base.
    return spawn(service, [os.path.join(BIN, "nameko"), "run", "--config", "services/%s/config.yaml" % service,
                           "%s:%s" % (SERVICES[service], SERVICE_CLASSES[service])], env)


def start_gateway(env):
    env = dict(env)
    env.setdefault("PROMETHEUS_MULTIPROC_DIR", os.path.join(var_dir(), "run", "gateway-metrics"))
    return spawn("gateway", [os.path.join(BIN, "gunicorn"), "-c", "services/gateway/gunicorn.conf.py",
                             "gateway.wsgi:app"], env)


def load_demo_data(env):
    """scripts/demo_data.py against the running gateway; it prints its own summary or what failed.
    Safe to repeat: what already exists is skipped."""
    say("loading the demo data through %s" % gateway_url())
    result = subprocess.run([sys.executable, os.path.join(ROOT, "scripts", "demo_data.py")], cwd=ROOT, env=env)
    if result.returncode != 0:
        say("loading the demo data failed (above); the stack is still running: logs in %s, stop with: make stop"
            % os.path.join(var_dir(), "log"))
        return False
    return True


def stop(name, timeout=15):
    pid = running_pid(name)
    if pid is None:
        return False
    try:
        os.killpg(pid, signal.SIGTERM)
    except OSError:
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and running_pid(name):
        time.sleep(0.2)
    if running_pid(name):
        os.killpg(pid, signal.SIGKILL)
    os.remove(pid_file(name))
    return True


def health(timeout=5):
    try:
        with urllib.request.urlopen(gateway_url() + "/health", timeout=timeout) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()
    except OSError as exc:
        return None, str(exc)


def wait_healthy(seconds=60):
    deadline = time.monotonic() + seconds
    status, body = None, ""
    while time.monotonic() < deadline:
        status, body = health()
        if status == 200:
            return True
        time.sleep(0.5)
    say("the gateway's /health did not reach 200 within %ss (last answer: %s %s)" % (seconds, status, body[:300]))
    return False


# --- commands -----------------------------------------------------------------------------------

def up(load_demo=False, wait_seconds=60):
    ensure_rabbitmq()
    down(quiet=True)  # running `up` twice restarts cleanly instead of starting a second copy
    env = stack_env()
    say("migrating the four databases")
    migrate(env)
    declare_queues(env)
    for service in SERVICES:
        start_service(service, env)
    start_gateway(env)
    if not wait_healthy(wait_seconds):
        say("logs are in %s" % os.path.join(var_dir(), "log"))
        return 1
    # The demo data goes in through the gateway's HTTP API like any client's, so only once all is up.
    if load_demo and not load_demo_data(env):
        return 1
    say("the portal is up at %s  (API docs: %s/api/docs, health: %s/health)" % (
        gateway_url(), gateway_url(), gateway_url()))
    say("logs: %s/*.log   mail sink: %s   stop with: make stop" % (
        os.path.join(var_dir(), "log"), env["MAIL_DIR"]))
    if load_demo:
        say("demo users and their credentials: %s" % os.path.join(var_dir(), "demo-credentials.json"))
    return 0


def down(quiet=False):
    stopped = [name for name in ["gateway", *SERVICES] if stop(name)]
    if not quiet:
        say("stopped %s" % (", ".join(stopped) if stopped else "nothing (not running)"))
    return 0


def status():
    for name in ["gateway", *SERVICES]:
        pid = running_pid(name)
        print("%-10s %s" % (name, "running (pid %s)" % pid if pid else "stopped"))
    code, body = health()
    print("health     %s %s" % (code, body[:500]))
    return 0


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    up_parser = sub.add_parser("up")
    up_parser.add_argument("--demo", action="store_true", help="load the demo data set")
    up_parser.add_argument("--wait", type=int, default=60, help="seconds to wait for /health")
    sub.add_parser("down")
    sub.add_parser("status")
    args = parser.parse_args()
    if args.command == "up":
        return up(args.demo, args.wait)
    if args.command == "down":
        return down()
    return status()


if __name__ == "__main__":
    sys.exit(main())
