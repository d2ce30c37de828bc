"""The statement run at scale, through the real billing service, with 1 and then 2 replicas.

    .venv/bin/python bench/statement_run.py                                  # 2,000 groups, 100,000 subscribers
    .venv/bin/python bench/statement_run.py --groups 50 --subscribers 2000   # a quick run
    make bench-statements BENCH_ARGS="--groups 50 --subscribers 2000"        # if the Makefile has the target

It needs PostgreSQL and RabbitMQ (with the management plugin, for a vhost of its own), not the stack:
  1. a fresh PostgreSQL database (servicekit.testing.fresh_database) migrated like billing's (alembic), then
     --groups groups of --subgroups billing accounts each, their policy (a quarter age-rated, prorations in
     turn), rates, offerings, and --subscribers families (EMP/ESP/ECH/FAM, some ended mid-April) written in bulk
     (INSERT ... VALUES with many rows), as roster's events and the carrier's rate load would have left them;
  2. for each replica count (--replicas, default 1,2): empties what a run writes (ledger, statements, claims,
     outbox), starts that many `nameko run` billing processes on one vhost and the database, sends as many
     run_statements(--as-of) calls at once as there are replicas (RabbitMQ hands them out in turn), and times
     them until every answer is in;
  3. prints per row: seconds, statements created, accounts per second, each replica's RSS (VmHWM) when the
     answers are in and its peak RSS over its life (wait4's rusage), and how many accounts each one cut (from
     the claims); checks that every active account was cut exactly once (one statement, one claim) and every
     group consolidated once. The data is generated in a child process of its own, so a replica's peak is its
     own (Linux carries a process's RSS high-water mark across fork and exec).
Exits 1 when a check fails, 2 when PostgreSQL or RabbitMQ cannot be reached. The database and vhost are
dropped at the end (--keep keeps them).
"""
import argparse
import multiprocessing
import os
import random
import resource
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
import warnings
from datetime import date, datetime, timezone
from decimal import Decimal

import requests

warnings.filterwarnings("ignore", message=r"\s*Eventlet is deprecated")  # nameko, imported through the kit
from sqlalchemy import func, insert, select, text  # noqa: E402

from billing.models import (BillableFamily, BillingAccount, BillingGroup, ConsolidatedStatement,  # noqa: E402
                            PlanYearOffering, Rate, Statement)
from servicekit.crypto import generate_key  # noqa: E402
from servicekit.db import make_engine  # noqa: E402
from servicekit.tables import job_runs  # noqa: E402
from servicekit.testing import drop_database, fresh_database  # noqa: E402
from servicekit.testing.tokens import TEST_PUBLIC_KEY_PEM, mint_token  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.join(ROOT, ".venv", "bin")
EXIT_FAILED, EXIT_UNREACHABLE = 1, 2
PLAN = "BENCH-PPO"
PLAN_YEAR = (date(2027, 1, 1), date(2027, 12, 31))
NOW = datetime(2027, 3, 1, tzinfo=timezone.utc)
COMPOSITE_RATES = {"EMP": Decimal("512.40"), "ESP": Decimal("1024.80"), "ECH": Decimal("921.15"),
                   "FAM": Decimal("1433.05")}
AGE_BANDS = ["0-14"] + [str(age) for age in range(15, 64)] + ["64+"]
PRORATIONS = ("none", "daily", "fifteenth")
BATCH = 5000


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--groups", type=int, default=2000)
    parser.add_argument("--subscribers", type=int, default=100000)
    parser.add_argument("--subgroups", type=int, default=2, help="billing accounts per group (default 2)")
    parser.add_argument("--replicas", default="1,2", help="replica counts to run, in order (default 1,2)")
    parser.add_argument("--as-of", default="2027-03-15", type=date.fromisoformat,
                        help="the run's business date (default 2027-03-15: April's statements)")
    parser.add_argument("--amqp", default=os.environ.get("BENCH_AMQP", "amqp://guest:guest@127.0.0.1:5672"),
                        help="the broker, without a vhost (one is made for the bench)")
    parser.add_argument("--rabbit-api", default=os.environ.get("TEST_RABBIT_API",
                                                               "http://guest:guest@127.0.0.1:15672/api"))
    parser.add_argument("--timeout", type=float, default=3600, help="seconds to wait for a run's answer")
    parser.add_argument("--seed", type=int, default=6)
    parser.add_argument("--keep", action="store_true", help="keep the database and the vhost")
    args = parser.parse_args(argv)
    args.replicas = [int(count) for count in args.replicas.split(",") if count.strip()]
    if args.groups < 1 or args.subscribers < args.groups or args.subgroups < 1:
        parser.error("need at least one group, one subgroup, and a subscriber per group")
    return args


# --- the data -------------------------------------------------------------------------------------------

def _insert(connection, table, rows):
    for start in range(0, len(rows), BATCH):
        connection.execute(insert(table).values(rows[start:start + BATCH]))


def _span(tier, through=None):
    return {"plan_code": PLAN, "tier": tier, "effective_from": PLAN_YEAR[0].isoformat(),
            "effective_through": through, "status": "terminated" if through else "active", "continuation": None}


def _birth_date(rng, youngest, oldest):
    return date(2027 - rng.randint(youngest, oldest), rng.randint(1, 12), rng.randint(1, 28)).isoformat()


def _family(rng, next_id):
    """(members, how many ids it used): a subscriber and the dependents its tier needs; 1 in 30 ends mid-April."""
    tier = rng.choices(("EMP", "ESP", "ECH", "FAM"), weights=(40, 20, 15, 25))[0]
    through = "2027-04-%02d" % rng.randint(2, 28) if rng.random() < 1 / 30 else None
    people = [("18", _birth_date(rng, 22, 66))]
    if tier in ("ESP", "FAM"):
        people.append(("01", _birth_date(rng, 22, 66)))
    if tier in ("ECH", "FAM"):
        people += [("19", _birth_date(rng, 0, 25)) for _child in range(rng.randint(1, 3))]
    members = [{"member_id": "M%09d" % (next_id + index), "relationship_code": code, "date_of_birth": born,
                "status": "active", "coverage": [_span(tier, through)]}
               for index, (code, born) in enumerate(people)]
    return members, len(people)


def generate(engine, args):
    """Groups, accounts, offerings, rates and families, in bulk; returns (accounts, families, members)."""
    rng = random.Random(args.seed)
    groups, accounts, offerings, rates, families = [], [], [], [], []
    subgroups = ["%03d" % (index + 1) for index in range(args.subgroups)]
    for index in range(args.groups):
        group_id = index + 1
        age_rated = index % 4 == 3
        groups.append({"id": group_id, "group_number": "B%05d" % index, "legal_name": "Bench group %d" % index,
                       "status": "active", "renewal_date": PLAN_YEAR[0], "group_sequence": 1,
                       "rating_method": "age_rated" if age_rated else "composite",
                       "proration": PRORATIONS[index % 3], "grace_days": 31, "cobra_billing": "group_billed",
                       "retro_window_days": 60, "updated_at": NOW})
        for subgroup in subgroups:
            accounts.append({"account_number": "B%05d-%s" % (index, subgroup), "group_id": group_id,
                             "subgroup_number": subgroup, "name": "Site %s" % subgroup, "status": "active",
                             "delinquency_stage": "current", "sequence": 0, "created_at": NOW})
            offerings.append({"group_id": group_id, "subgroup_number": subgroup, "plan_year_start": PLAN_YEAR[0],
                              "plan_year_end": PLAN_YEAR[1], "plans": [{"plan_code": PLAN,
                                                                        "tiers": ["EMP", "ESP", "ECH", "FAM"]}]})
        if age_rated:
            rates += [{"group_id": group_id, "plan_year_start": PLAN_YEAR[0], "plan_code": PLAN, "rate_key": band,
                       "amount": Decimal("180.00") + Decimal("7.25") * position}
                      for position, band in enumerate(AGE_BANDS)]
        else:
            rates += [{"group_id": group_id, "plan_year_start": PLAN_YEAR[0], "plan_code": PLAN, "rate_key": tier,
                       "amount": amount} for tier, amount in COMPOSITE_RATES.items()]
    next_id, members = 100000000, 0
    for number in range(args.subscribers):
        group_index = number % args.groups
        family, used = _family(rng, next_id)
        families.append({"subscriber_member_id": family[0]["member_id"], "group_id": group_index + 1,
                         "subgroup_number": subgroups[(number // args.groups) % len(subgroups)], "sequence": 1,
                         "members": family, "updated_at": NOW})
        next_id += used
        members += used
    with engine.begin() as connection:
        for model, rows in ((BillingGroup, groups), (BillingAccount, accounts), (PlanYearOffering, offerings),
                            (Rate, rates), (BillableFamily, families)):
            _insert(connection, model.__table__, rows)
        connection.execute(text("SELECT setval(pg_get_serial_sequence('billing_groups', 'id'), :n)"),
                           {"n": args.groups})
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(text("ANALYZE"))   # what autovacuum does soon after a bulk load
    return len(accounts), len(families), members


def generate_in_child(database_url, args):
    engine = make_engine(database_url)
    try:
        return generate(engine, args)
    finally:
        engine.dispose()


def migrate(database_url):
    env = dict(os.environ, BILLING_DATABASE_URL=database_url)
    result = subprocess.run([os.path.join(BIN, "alembic"), "-c", "services/billing/alembic.ini", "upgrade", "head"],
                            cwd=ROOT, env=env, capture_output=True, text=True)
    if result.returncode != 0:
        sys.exit("migrating the bench database failed:\n%s%s" % (result.stdout, result.stderr))


def reset(engine):
    """What a run writes, gone: the next row starts from the same data."""
    with engine.begin() as connection:
        connection.execute(text("TRUNCATE ledger_entries, statements, consolidated_statements, job_runs, outbox, "
                                "aggregate_sequences, idempotency_keys RESTART IDENTITY CASCADE"))


# --- the replicas ---------------------------------------------------------------------------------------

class Replicas:
    """`count` billing services (`nameko run`), on the bench's vhost and database, started and stopped here."""

    def __init__(self, count, env, log_dir):
        self.processes = []
        for number in range(count):
            log = open(os.path.join(log_dir, "billing-%d.log" % (number + 1)), "ab")
            self.processes.append(subprocess.Popen(
                [os.path.join(BIN, "nameko"), "run", "--config", "services/billing/config.yaml",
                 "billing.service:BillingService"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL))

    def peak_rss_mb(self):
        """Each replica's peak resident set so far (Linux: VmHWM), in MB: while it cut the statements."""
        peaks = []
        for process in self.processes:
            try:
                with open("/proc/%d/status" % process.pid) as status:
                    kb = next(int(line.split()[1]) for line in status if line.startswith("VmHWM:"))
                peaks.append(kb / 1024)
            except (OSError, StopIteration):
                peaks.append(float("nan"))
        return peaks

    def stop(self):
        """SIGTERM each replica, reap it, and return each one's peak RSS over its whole life (wait4), in MB:
        it also counts what happened after the answers (the outbox relay publishing statement_issued)."""
        for process in self.processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        peaks = []
        for process in self.processes:
            peaks.append(self._reap(process))
        return peaks

    @staticmethod
    def _reap(process, timeout=30):
        deadline = time.monotonic() + timeout
        while process.returncode is None:
            pid, status, usage = os.wait4(process.pid, os.WNOHANG)
            if pid == process.pid:
                process.returncode = os.waitstatus_to_exitcode(status)
                return usage.ru_maxrss / 1024
            if time.monotonic() > deadline:
                process.kill()
                deadline = time.monotonic() + timeout
            time.sleep(0.1)
        return float("nan")   # reaped elsewhere


def wait_for_consumers(args, vhost, count, processes, timeout=90):
    """Until `count` replicas consume billing's RPC queue (every one is up and listening)."""
    deadline = time.monotonic() + timeout
    url = "%s/queues/%s/rpc-billing" % (args.rabbit_api, requests.utils.quote(vhost, safe=""))
    while time.monotonic() < deadline:
        if any(process.poll() is not None for process in processes):
            sys.exit("a billing replica exited while starting; see its log")
        answer = requests.get(url, timeout=5)
        if answer.status_code == 200 and answer.json().get("consumers", 0) >= count:
            return
        time.sleep(0.5)
    sys.exit("the billing replicas did not start within %ss" % timeout)


def call_run(amqp_uri, token, as_of, timeout):
    from nameko.standalone.rpc import ClusterRpcProxy

    context = {"authorization": token, "request_id": str(uuid.uuid4()), "idempotency_key": str(uuid.uuid4())}
    with ClusterRpcProxy({"AMQP_URI": amqp_uri}, context_data=context, timeout=timeout) as cluster:
        return cluster.billing.run_statements(as_of.isoformat())


def run_row(args, engine, env, amqp_uri, vhost, count, log_dir):
    reset(engine)
    replicas = Replicas(count, env, log_dir)
    try:
        wait_for_consumers(args, vhost, count, replicas.processes)
        token = mint_token("bench-carrier", carrier=True)
        answers, failures = [None] * count, []

        def one(slot):
            try:
                answers[slot] = call_run(amqp_uri, token, args.as_of, args.timeout)
            except Exception as exc:  # reported below with the row
                failures.append(repr(exc))

        started = time.perf_counter()
        threads = [threading.Thread(target=one, args=(slot,), daemon=True) for slot in range(count)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        seconds = time.perf_counter() - started
        at_answer = replicas.peak_rss_mb()
    finally:
        peaks = replicas.stop()
    return seconds, answers, failures, at_answer, peaks


# --- the checks -------------------------------------------------------------------------------------------

def check(engine, args, accounts, answers, failures):
    """Every active account cut exactly once, every group consolidated once, every answer clean."""
    problems = list(failures)
    with engine.connect() as connection:
        statements = connection.scalar(select(func.count()).select_from(Statement.__table__))
        twice = connection.scalar(select(func.count()).select_from(
            select(Statement.account_id).group_by(Statement.account_id, Statement.coverage_month)
            .having(func.count() > 1).subquery()))
        claims = connection.execute(select(job_runs.c.claimed_by, func.count())
                                    .where(job_runs.c.job == "statement_run", job_runs.c.unit != "*")
                                    .group_by(job_runs.c.claimed_by)).all()
        consolidated = connection.scalar(select(func.count()).select_from(ConsolidatedStatement.__table__))
    created = sum(answer["statements"] for answer in answers if answer)
    if statements != accounts:
        problems.append("%d statements for %d accounts" % (statements, accounts))
    if twice:
        problems.append("%d accounts cut more than once" % twice)
    if sum(count for _by, count in claims) != accounts:
        problems.append("%d claims for %d accounts" % (sum(count for _by, count in claims), accounts))
    if created != accounts:
        problems.append("the answers count %d statements, not %d" % (created, accounts))
    if consolidated != args.groups:
        problems.append("%d consolidated statements for %d groups" % (consolidated, args.groups))
    errors = [error for answer in answers if answer for error in answer["errors"]]
    if errors:
        problems.append("%d accounts not cut, e.g. %s" % (len(errors), errors[0]))
    per_replica = sorted(count for _by, count in claims)
    return statements, per_replica, problems


# --- main -----------------------------------------------------------------------------------------------

def make_vhost(args):
    vhost = "bench-statements-%s" % uuid.uuid4().hex[:8]
    try:
        requests.put("%s/vhosts/%s" % (args.rabbit_api, vhost), timeout=10).raise_for_status()
    except requests.RequestException as exc:
        print("RabbitMQ's management API is not reachable at %s (%s)" % (args.rabbit_api, exc), file=sys.stderr)
        sys.exit(EXIT_UNREACHABLE)
    return vhost


def main(argv=None):
    args = parse_args(argv)
    vhost = make_vhost(args)
    try:
        database_url = fresh_database("bench_billing")
    except Exception as exc:
        print("PostgreSQL is not reachable (%s)" % exc, file=sys.stderr)
        requests.delete("%s/vhosts/%s" % (args.rabbit_api, vhost), timeout=10)
        sys.exit(EXIT_UNREACHABLE)
    work = tempfile.mkdtemp(prefix="bench-statements-")
    engine = make_engine(database_url)
    failed = False
    try:
        migrate(database_url)
        started = time.perf_counter()
        # In a process of its own: a replica forked from a bench holding 100,000 families would be charged
        # their memory as its own peak (Linux carries the RSS high-water mark across fork and exec).
        with multiprocessing.get_context("spawn").Pool(1) as pool:
            accounts, families, members = pool.apply(generate_in_child, (database_url, args))
        print("data: %d groups, %d accounts, %d families (%d members) written in %.1f s"
              % (args.groups, accounts, families, members, time.perf_counter() - started))
        key_file = os.path.join(work, "token_public.pem")
        with open(key_file, "w") as handle:
            handle.write(TEST_PUBLIC_KEY_PEM)
        amqp_uri = "%s/%s" % (args.amqp.rstrip("/"), vhost)
        env = dict(os.environ, BILLING_DATABASE_URL=database_url, AMQP_URI=amqp_uri, TOKEN_PUBLIC_KEY_FILE=key_file,
                   FIELD_ENCRYPTION_KEY=generate_key(), FIELD_HASH_KEY=generate_key(), VAR_DIR=work,
                   BILLING_METRICS_PORT="0", BUSINESS_DATE=args.as_of.isoformat(), LOG_LEVEL="WARNING",
                   MAIL_DIR=os.path.join(work, "mail"))
        print("run: statement run as of %s through billing's RPC run_statements; logs in %s" % (args.as_of, work))
        print("%-9s %9s %11s %11s %-18s %-18s %s" % ("replicas", "seconds", "statements", "accounts/s",
                                                    "RSS MB at answer", "peak RSS MB", "accounts cut per replica"))
        for count in args.replicas:
            seconds, answers, failures, at_answer, peaks = run_row(args, engine, env, amqp_uri, vhost, count, work)
            statements, per_replica, problems = check(engine, args, accounts, answers, failures)
            print("%-9d %9.1f %11d %11.0f %-18s %-18s %s" % (
                count, seconds, statements, statements / seconds if seconds else 0,
                ", ".join("%.0f" % peak for peak in at_answer), ", ".join("%.0f" % peak for peak in peaks),
                ", ".join(str(n) for n in per_replica)))
            for problem in problems:
                failed = True
                print("  FAILED: %s" % problem)
        print("largest child process (getrusage RUSAGE_CHILDREN, the data generator included): %.0f MB"
              % (resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024))
        print("every active account cut exactly once: %s" % ("no" if failed else "yes"))
    finally:
        engine.dispose()
        if not args.keep:
            drop_database(database_url)
            requests.delete("%s/vhosts/%s" % (args.rabbit_api, vhost), timeout=10)
        else:
            print("kept: database %s, vhost %s" % (database_url, vhost))
    return EXIT_FAILED if failed else 0


if __name__ == "__main__":
    sys.exit(main())
