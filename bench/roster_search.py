"""Roster at scale through the gateway: census import rate, member search latency, roster export time.

    make run                      # in another terminal: the whole stack on this machine
    make bench-roster             # or: .venv/bin/python bench/roster_search.py [options]

Against the running stack, as carrier staff (a token minted with the development key,
var/keys/token_private.pem), it:
  1. creates one bench group (a new number each run, from the time) with 5 subgroups and offers it two plans;
  2. loads --members synthetic members (default 100,000: subscribers with spouses and children) with the
     census import, POST /api/v1/admin/groups/{g}/census, in chunks of --chunk rows (default 10,000);
     subgroups 001-004 share all but the last --export-size members (default 10,000), which are
     subgroup 005, so one subgroup export is exactly that size;
  3. searches members, GET /api/v1/groups/{g}/members, by last-name prefix, date of birth, SSN last 4,
     member id and status: at most --searches requests or --seconds seconds per kind, one client;
  4. exports subgroup 005's roster, GET /api/v1/groups/{g}/roster?subgroup=005&format=csv|xlsx,
     --exports times each.
Then a table: rows/s of the import, p50/p95 per search kind, export times.

Every run adds a group of --members members to the stack's roster database (~190 MB on SQLite), so a
throwaway stack (VAR_DIR=/tmp/bench-var ... portalctl.py up; bench/README.md) keeps var/ small.
Loopback only; exits 2 when the stack is not running, 1 when a measured request failed.
"""
import argparse
import csv
import io
import ipaddress
import os
import random
import socket
import statistics
import sys
import time
import warnings
from datetime import date, timedelta
from urllib.parse import urlsplit

import requests

warnings.filterwarnings("ignore", message=r"\s*Eventlet is deprecated")  # nameko, imported through the kit
from servicekit import clock  # noqa: E402
from servicekit.auth import TokenSigner  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
STACK_HINT = "Start the stack first (`make run`) and run the bench again."
EXIT_STACK_DOWN = 2
EXIT_FAILED = 1
SUBGROUPS = ["001", "002", "003", "004", "005"]
EXPORT_SUBGROUP = "005"
PLANS = [
    {"plan_code": "BENCH-PPO", "name": "Bench PPO", "product": "medical", "plan_type": "PPO", "network": "OPEN",
     "requires_pcp": False, "tiers": ["EMP", "ESP", "ECH", "FAM"]},
    {"plan_code": "BENCH-EPO", "name": "Bench EPO", "product": "medical", "plan_type": "EPO", "network": "PRIME",
     "requires_pcp": False, "tiers": ["EMP", "ESP", "ECH", "FAM"]},
]
CENSUS_COLUMNS = ["subgroup_number", "plan_code", "relationship", "subscriber_ssn", "first_name", "last_name",
                  "date_of_birth", "gender", "ssn", "hire_date", "effective_date"]
SYLLABLES = ["al", "ber", "cas", "dor", "el", "fen", "gar", "hol", "is", "jan", "kel", "lor", "mar", "nor", "ol",
             "per", "quin", "ros", "sten", "tor", "ul", "van", "wes", "yor", "zan"]
FIRST_NAMES = ["Alex", "Blair", "Casey", "Dana", "Emery", "Finley", "Gray", "Harper", "Indy", "Jordan", "Kai",
               "Logan", "Morgan", "Noel", "Oakley", "Parker", "Quinn", "Reese", "Sage", "Taylor"]


class StackNotRunning(Exception):
    pass


class BenchFailed(Exception):
    pass


# ---------------------------------------------------------------- synthetic roster

def last_names(rng, count=2000):
    """`count` distinct surnames from syllables: ~50 of 100,000 members share one; a 3-letter prefix (one of 25
    first syllables) matches up to ~4 % of the roster, so a page of results and a count over thousands."""
    names = set()
    while len(names) < count:
        names.add("".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 3))).capitalize())
    return sorted(names)


class Roster:
    """Synthetic families, numbered so SSNs are unique; keeps samples of what the searches look for."""

    def __init__(self, seed, today):
        self.rng = random.Random(seed)
        self.today = today
        self.surnames = last_names(self.rng)
        self.serial = 0
        self.dobs, self.ssn_last4, self.used_surnames = [], [], {}

    def ssn(self):
        """Unique within the run: the counter in mixed radix (serial 0001-9999, group 01-99, area from 100)."""
        self.serial += 1
        high, serial = divmod(self.serial, 9999)
        return "%03d%02d%04d" % (100 + high // 99, 1 + high % 99, 1 + serial)

    def dob(self, low, high):
        """A birth date between `low` and `high` years old (high + 1 exclusive); never today or later."""
        return self.today - timedelta(days=self.rng.randint(low * 365 + 30, high * 365 + 330))

    def family(self, subgroup, size, effective):
        """`size` rows (1-5): a subscriber, then a spouse and/or children."""
        rng = self.rng
        surname = rng.choice(self.surnames)
        self.used_surnames[surname] = True  # (a dict keeps the order: the same run draws the same)
        subscriber_ssn = self.ssn()
        plan = rng.choice(PLANS)["plan_code"]
        common = {"subgroup_number": subgroup, "plan_code": plan, "effective_date": effective}
        age = rng.randint(26, 64)
        subscriber_dob = self.dob(age, age)
        hire = min(self.today - timedelta(days=400), self.dob(1, 20))
        rows = [dict(common, relationship="self", subscriber_ssn="", first_name=rng.choice(FIRST_NAMES),
                     last_name=surname, date_of_birth=subscriber_dob.isoformat(), gender=rng.choice("FM"),
                     ssn=subscriber_ssn, hire_date=hire.isoformat())]
        kinds = (["spouse"] if size > 1 and rng.random() < 0.6 else []) + ["child"] * 5
        for kind in kinds[:size - 1]:
            dob = self.dob(max(22, age - 8), age + 8) if kind == "spouse" else self.dob(0, min(25, age - 20))
            rows.append(dict(common, relationship=kind, subscriber_ssn=subscriber_ssn,
                             first_name=rng.choice(FIRST_NAMES), last_name=surname,
                             date_of_birth=dob.isoformat(), gender=rng.choice("FM"), ssn=self.ssn(), hire_date=""))
        for row in rows:
            if len(self.dobs) < 5000:
                self.dobs.append(row["date_of_birth"])
                self.ssn_last4.append(row["ssn"][-4:])
        return rows

    def chunks(self, members, chunk, export_size, effective):
        """CSV texts of `chunk` rows at most; a family never spans two chunks or two subgroups.

        The last `export_size` members are subgroup 005; the rest share 001-004 evenly."""
        quotas = {}
        spread = members - export_size
        for index, number in enumerate(SUBGROUPS[:-1]):
            quotas[number] = spread // 4 + (1 if index < spread % 4 else 0)
        quotas[EXPORT_SUBGROUP] = export_size
        rows = []
        for number in SUBGROUPS:
            left = quotas[number]
            while left:
                room = chunk - len(rows)
                size = min(self.rng.choices([1, 2, 3, 4, 5], weights=[40, 20, 18, 15, 7])[0], left, room)
                rows.extend(self.family(number, size, effective))
                left -= size
                if len(rows) == chunk:
                    yield to_csv(rows), len(rows)
                    rows = []
        if rows:
            yield to_csv(rows), len(rows)


def to_csv(rows):
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=CENSUS_COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


# ---------------------------------------------------------------- the stack

def require_loopback(url):
    host = urlsplit(url).hostname or ""
    try:
        addresses = {info[4][0] for info in socket.getaddrinfo(host, None)}
    except socket.gaierror as exc:
        raise SystemExit("gateway %s: cannot resolve %r (%s)" % (url, host, exc))
    if not addresses or not all(ipaddress.ip_address(address.split("%")[0]).is_loopback for address in addresses):
        raise SystemExit("gateway %s is not on this machine: the bench only loads loopback addresses" % url)


def check_stack(url, timeout):
    try:
        health = requests.get(url + "/health", timeout=timeout)
    except requests.RequestException as exc:
        raise StackNotRunning("the gateway does not answer at %s (%s)." % (url, type(exc).__name__))
    if health.status_code != 200:
        raise StackNotRunning("the gateway's /health answered %d: %s" % (health.status_code, health.text[:300]))


def problem_text(response):
    try:
        body = response.json()
    except ValueError:
        return response.text[:300]
    if isinstance(body, dict):
        return " - ".join(str(body[key]) for key in ("code", "detail", "errors") if body.get(key))[:600]
    return str(body)[:300]


class Client:
    def __init__(self, url, token, timeout):
        self.url = url
        self.timeout = timeout
        self.session = requests.Session()
        self.session.headers["Authorization"] = "Bearer %s" % token

    def request(self, method, path, expect=(200, 201), timeout=None, **kwargs):
        try:
            response = self.session.request(method, self.url + path, timeout=timeout or self.timeout, **kwargs)
        except requests.RequestException as exc:
            raise BenchFailed("%s %s: %s: %s" % (method, path, type(exc).__name__, exc)) from None
        if response.status_code not in expect:
            raise BenchFailed("%s %s answered %d: %s" % (method, path, response.status_code, problem_text(response)))
        return response


# ---------------------------------------------------------------- measuring

def percentile(values, fraction):
    """Nearest-rank percentile of seconds, in milliseconds."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(1, min(len(ordered), int(round(fraction * len(ordered) + 0.5))))
    return ordered[rank - 1] * 1000.0


def set_up_group(client, today):
    group_number = "B%d" % int(time.time())
    client.request("POST", "/api/v1/admin/plans", json=PLANS)
    client.request("POST", "/api/v1/admin/groups", expect=(201,), json={
        "group_number": group_number, "legal_name": "Bench Synthetic Holdings %s" % group_number, "ein": "069999999",
        "mailing_address": {"line1": "1 Bench Way", "city": "Hartford", "state": "CT", "zip": "06103"},
        "contacts": [{"kind": "primary", "name": "Bench Admin", "email": "bench@bench.example"}],
        "renewal_date": date(today.year, 1, 1).isoformat(), "employee_count": 40000, "waiting_period_days": 0,
        "age_off_policy": "end_of_month", "continuation": "cobra"})
    for number in SUBGROUPS:
        client.request("POST", "/api/v1/admin/groups/%s/subgroups" % group_number, expect=(201,),
                       json={"subgroup_number": number,
                             "name": "Bench export %s" % number if number == EXPORT_SUBGROUP else "Bench %s" % number})
        client.request("PUT", "/api/v1/admin/groups/%s/subgroups/%s/plans" % (group_number, number),
                       json={"plan_year_start": date(today.year, 1, 1).isoformat(),
                             "plan_codes": [plan["plan_code"] for plan in PLANS]})
    return group_number


def load_members(client, group_number, roster, args, out):
    effective = date(roster.today.year, 1, 1).isoformat()
    loaded, chunk_rates, started = 0, [], time.perf_counter()
    for index, (text, rows) in enumerate(roster.chunks(args.members, args.chunk, args.export_size, effective), 1):
        began = time.perf_counter()
        response = client.request("POST", "/api/v1/admin/groups/%s/census" % group_number, data=text.encode(),
                                  headers={"Content-Type": "text/csv"}, timeout=args.import_timeout)
        elapsed = time.perf_counter() - began
        imported = response.json().get("imported", rows)
        if imported != rows:
            raise BenchFailed("census chunk %d: sent %d rows, %s imported" % (index, rows, imported))
        loaded += rows
        chunk_rates.append(rows / elapsed)
        print("  census chunk %2d: %6d rows in %6.1f s  (%6.0f rows/s)  total %d" % (
            index, rows, elapsed, rows / elapsed, loaded), file=out, flush=True)
    return loaded, time.perf_counter() - started, chunk_rates


def sample_member_ids(client, group_number, rng, want=500):
    """Member ids come from roster: read a few pages of the roster to search for them again."""
    found = []
    for page in range(1, 280, 7):  # pages spread over the roster (name order), not only its first names
        response = client.request("GET", "/api/v1/groups/%s/members" % group_number,
                                  params={"limit": 200, "page": page})
        found.extend(item["member_id"] for item in response.json()["items"])
        if len(found) >= want or not response.json()["items"]:
            break
    if not found:
        raise BenchFailed("the bench group's roster is empty after the import")
    rng.shuffle(found)
    return found


def measure_search(client, group_number, label, make_params, args):
    """Sequential searches, at most args.searches or args.seconds; every answer must be a 200 with items."""
    path = "/api/v1/groups/%s/members" % group_number
    latencies, errors, first_error, empty = [], 0, "", 0
    for _ in range(min(args.warmup, args.searches)):
        try:
            client.session.get(client.url + path, params=make_params(), timeout=args.timeout)
        except requests.RequestException:
            pass  # a failure shows in the measured requests
    deadline = time.perf_counter() + args.seconds
    while len(latencies) + errors < args.searches and time.perf_counter() < deadline:
        params = make_params()
        began = time.perf_counter()
        try:
            response = client.session.get(client.url + path, params=params, timeout=args.timeout)
            took = time.perf_counter() - began
            if response.status_code != 200:
                raise BenchFailed("%s answered %d: %s" % (params, response.status_code, problem_text(response)))
            if not response.json()["items"]:
                empty += 1
        except (requests.RequestException, BenchFailed) as exc:
            errors += 1
            first_error = first_error or str(exc)
            continue
        latencies.append(took)
    return {"label": label, "latencies": latencies, "errors": errors, "first_error": first_error, "empty": empty}


def measure_export(client, group_number, fmt, args):
    times, rows = [], None
    for _ in range(args.exports):
        began = time.perf_counter()
        response = client.request("GET", "/api/v1/groups/%s/roster" % group_number, timeout=args.import_timeout,
                                  params={"subgroup": EXPORT_SUBGROUP, "format": fmt})
        times.append(time.perf_counter() - began)
        size = len(response.content)
        if fmt == "csv":
            rows = len(list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))) - 1
        else:
            from openpyxl import load_workbook
            sheet = load_workbook(io.BytesIO(response.content), read_only=True).active
            rows = sum(1 for _ in sheet.iter_rows(values_only=True)) - 1  # no dimensions in write-only files
    return {"format": fmt, "times": times, "rows": rows, "bytes": size}


# ---------------------------------------------------------------- report

def print_report(load, searches, exports, args, out):
    loaded, seconds, chunk_rates = load
    print("\ncensus import: %d members in %.1f s = %.0f rows/s overall (chunks of %d: %.0f-%.0f rows/s)" % (
        loaded, seconds, loaded / seconds, args.chunk, min(chunk_rates), max(chunk_rates)), file=out)
    header = "%-34s %8s %6s %6s %9s %9s %9s" % ("member search (GET .../members)", "requests", "errors", "empty",
                                                "p50 ms", "p95 ms", "max ms")
    print("\n" + header + "\n" + "-" * len(header), file=out)
    for row in searches:
        latencies = row["latencies"]
        print("%-34s %8d %6d %6d %9.1f %9.1f %9.1f" % (
            row["label"], len(latencies), row["errors"], row["empty"], percentile(latencies, 0.50),
            percentile(latencies, 0.95), max(latencies) * 1000 if latencies else float("nan")), file=out)
    header = "%-34s %8s %9s %9s %9s" % ("roster export (subgroup %s)" % EXPORT_SUBGROUP, "rows", "KiB",
                                        "best s", "median s")
    print("\n" + header + "\n" + "-" * len(header), file=out)
    for row in exports:
        print("%-34s %8s %9.0f %9.2f %9.2f" % (
            "GET .../roster?format=%s" % row["format"], row["rows"], row["bytes"] / 1024, min(row["times"]),
            statistics.median(row["times"])), file=out)


def parse_args(argv):
    parser = argparse.ArgumentParser(description="Census import, member search and roster export at scale, "
                                                 "through the gateway of the running stack.")
    parser.add_argument("--url", default="http://127.0.0.1:%s" % os.environ.get("PORT", "8080"),
                        help="the gateway (default http://127.0.0.1:$PORT, else 8080)")
    parser.add_argument("--key", default=os.environ.get("TOKEN_PRIVATE_KEY_FILE") or os.path.join(
        os.environ.get("VAR_DIR", os.path.join(ROOT, "var")), "keys", "token_private.pem"),
        help="the development signing key (default $TOKEN_PRIVATE_KEY_FILE, else $VAR_DIR/keys/token_private.pem)")
    parser.add_argument("--members", type=int, default=100000, help="members to load (default 100000)")
    parser.add_argument("--chunk", type=int, default=10000, help="census rows per request (default 10000)")
    parser.add_argument("--export-size", type=int, default=10000,
                        help="members of subgroup 005, the one exported (default 10000)")
    parser.add_argument("--searches", type=int, default=200, help="at most this many searches per kind (200)")
    parser.add_argument("--seconds", type=float, default=20.0, help="at most this long per search kind (20)")
    parser.add_argument("--warmup", type=int, default=5, help="unmeasured searches per kind first (5)")
    parser.add_argument("--exports", type=int, default=3, help="exports per format (3)")
    parser.add_argument("--timeout", type=float, default=10.0, help="per search, seconds (10)")
    parser.add_argument("--import-timeout", type=float, default=300.0,
                        help="per census chunk and per export, seconds (300)")
    parser.add_argument("--seed", type=int, default=3, help="synthetic data seed (3)")
    args = parser.parse_args(argv)
    args.url = args.url.rstrip("/")
    if args.members < 1 or args.chunk < 1 or args.searches < 1 or args.seconds <= 0 or args.exports < 1 \
            or not 0 < args.export_size < args.members:
        parser.error("--members, --chunk, --searches, --seconds and --exports must be positive, "
                     "and --export-size between 1 and --members - 1")
    return args


def main(argv=None, out=sys.stdout):
    args = parse_args(argv)
    require_loopback(args.url)
    try:
        check_stack(args.url, args.timeout)
    except StackNotRunning as exc:
        print("The stack is not running: %s\n%s" % (exc, STACK_HINT), file=sys.stderr)
        return EXIT_STACK_DOWN
    try:
        with open(args.key) as handle:
            signer = TokenSigner(handle.read(), ttl_seconds=4 * 3600)
    except OSError as exc:
        print("Cannot read the development signing key %s (%s): the bench signs its carrier token with the "
              "stack's key (`make run` writes var/keys/; pass --key otherwise)." % (args.key, exc.strerror),
              file=sys.stderr)
        return EXIT_STACK_DOWN
    client = Client(args.url, signer.issue("bench-carrier", [], carrier=True, name="Roster bench"), args.timeout)
    today = clock.today()
    roster = Roster(args.seed, today)
    rng = random.Random(args.seed + 1)
    try:
        group_number = set_up_group(client, today)
        print("bench group %s: loading %d members in chunks of %d through %s" % (
            group_number, args.members, args.chunk, args.url), file=out, flush=True)
        load = load_members(client, group_number, roster, args, out)
        member_ids = sample_member_ids(client, group_number, rng)
        surnames = list(roster.used_surnames)
        kinds = [
            ("last-name prefix (3 letters)", lambda: {"last_name": rng.choice(surnames)[:3].lower()}),
            ("name q=<whole last name>", lambda: {"q": rng.choice(surnames).lower()}),
            ("date of birth", lambda: {"date_of_birth": rng.choice(roster.dobs)}),
            ("SSN last 4", lambda: {"ssn_last4": rng.choice(roster.ssn_last4)}),
            ("member id", lambda: {"member_id": rng.choice(member_ids)}),
            ("status active, pages 1-10", lambda: {"status": "active", "page": rng.randint(1, 10)}),
            ("subgroup 005 + last-name prefix", lambda: {"subgroup": EXPORT_SUBGROUP,
                                                         "last_name": rng.choice(surnames)[:2].lower()}),
        ]
        print("searching: at most %d requests or %gs per kind" % (args.searches, args.seconds), file=out, flush=True)
        searches = [measure_search(client, group_number, label, make, args) for label, make in kinds]
        print("exporting subgroup %s (%d members): %d times per format" % (
            EXPORT_SUBGROUP, args.export_size, args.exports), file=out, flush=True)
        exports = [measure_export(client, group_number, fmt, args) for fmt in ("csv", "xlsx")]
    except BenchFailed as exc:
        print("bench failed: %s" % exc, file=sys.stderr)
        return EXIT_FAILED
    print_report(load, searches, exports, args, out)
    short = [row for row in exports if row["rows"] != args.export_size]
    for row in short:
        print("\nthe %s export held %s rows, not the %d members of subgroup %s" % (
            row["format"], row["rows"], args.export_size, EXPORT_SUBGROUP), file=sys.stderr)
    failed = [row for row in searches if row["errors"] or not row["latencies"]] + short
    for row in failed:
        if "label" in row:
            print("\n%s: %d request(s) failed; first: %s" % (row["label"], row["errors"], row["first_error"]),
                  file=sys.stderr)
    return EXIT_FAILED if failed else 0


if __name__ == "__main__":
    sys.exit(main())
