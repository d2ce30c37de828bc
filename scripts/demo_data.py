"""Load the demo data set of API.md for `make run` (never used by production configuration).

    python scripts/demo_data.py                  load everything (scripts/portalctl.py runs it once the stack
                                                 answers /health)
    python scripts/demo_data.py token USERNAME   sign a demo user in (password + TOTP) and print a fresh
                                                 access token, e.g. TOKEN=$(... token carrier.service)

The demo users are real identity users: each is seeded with identity's operator CLI (`python -m
identity.bootstrap user ...`, straight into identity's database, active, with a generated password and TOTP
secret) and signs in through the gateway like anyone (POST /auth/login, then /auth/mfa/verify with a TOTP code
computed here). Everything else goes in through the gateway's HTTP API like any client's, as the carrier admin
and the groups' own users, signed in for real:

- a demo carrier: four medical plans (an HMO and a POS that require a PCP, a PPO, an EPO) and a dental
  plan; 40 providers in four ZIP codes and the plans' networks;
- group 100234 Harbor Light Manufacturing (subgroups 001 Office, 002 Plant, 003 Retirees-Sales) and group
  200517 Elm Street Dental Partners (001 Clinical, 002 Front Office), each offered plans for the current
  plan year, with the next plan year loaded for renewal (open enrollment opens 30 days before it); a few hundred members across the tiers EMP, ESP, ECH and FAM, loaded by the
  census import (one request per group), and two future-dated (prospective) enrollments made by the
  groups' own users;
- billing: 100234 composite-rated (no proration), 200517 age-rated (daily proration), rates for this plan year
  and the next; the statements of this month and (after the 15th) the next, per subgroup and consolidated; this
  month's statements paid by each group's payer from a stored bank account, split across its accounts;
- var/demo-credentials.json: carrier staff, one user of each role on 100234 (and a broker allowed to change
  the roster, and an enrollment manager limited to subgroup 002), a group admin of 200517, each with its
  username, password, TOTP secret and an access token from signing in (minutes; `token USERNAME` gets a
  new one). If a user cannot sign in, the token is minted with the development key instead (TOKEN_HOURS).

Deterministic (one seeded random generator) and safe to run again: a user already in the credentials file
who still signs in with them is not seeded again (an existing username is never re-created: its credentials
are reused); a group that already exists (409) and already has members is skipped; plans and providers are
upserts. Environment: PORT (the gateway on 127.0.0.1, default 8080), TOKEN_PRIVATE_KEY_FILE, VAR_DIR (default
./var), IDENTITY_DATABASE_URL / FIELD_ENCRYPTION_KEY / FIELD_HASH_KEY (for the bootstrap CLI, set by
portalctl), BUSINESS_DATE / CARRIER_TIMEZONE (the business clock). Exits 1 with what failed if the gateway
answers an error it should not.
"""
import base64
import hashlib
import hmac
import json
import os
import random
import secrets
import struct
import subprocess
import sys
import time
import warnings
from datetime import date, datetime, timedelta, timezone
from decimal import ROUND_HALF_UP, Decimal

warnings.filterwarnings("ignore", message=r"\s*Eventlet is deprecated")  # nameko, imported through the kit
warnings.filterwarnings("ignore", message="pkg_resources is deprecated")

import requests  # noqa: E402

from servicekit import clock  # noqa: E402
from servicekit.auth import TokenSigner, compact_grant  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SEED = 20261123
TOKEN_HOURS = 12
TIMEOUT = 120  # seconds per request: a census import writes a few hundred members in one call

# --- the carrier -----------------------------------------------------------------------------------------

TIERS = ["EMP", "ESP", "ECH", "FAM"]
PLANS = [
    {"plan_code": "MED-HMO-1500", "name": "Harbor Select HMO 1500", "product": "medical", "plan_type": "HMO",
     "network": "SELECT", "requires_pcp": True, "tiers": TIERS},
    {"plan_code": "MED-POS-2000", "name": "Connect POS 2000", "product": "medical", "plan_type": "POS",
     "network": "SELECT", "requires_pcp": True, "tiers": TIERS},
    {"plan_code": "MED-PPO-1000", "name": "Open Access PPO 1000", "product": "medical", "plan_type": "PPO",
     "network": "OPEN", "requires_pcp": False, "tiers": TIERS},
    {"plan_code": "MED-EPO-2500", "name": "Prime EPO 2500", "product": "medical", "plan_type": "EPO",
     "network": "PRIME", "requires_pcp": False, "tiers": TIERS},
    {"plan_code": "DEN-PPO-50", "name": "Dental PPO 50", "product": "dental", "plan_type": "PPO",
     "network": "DENTAL", "requires_pcp": False, "tiers": TIERS},
]
PLACES = [  # (city, zip): four ZIP codes of the carrier's area
    ("Hartford", "06103"), ("New Haven", "06510"), ("Stamford", "06901"), ("Bridgeport", "06604")]
STREETS = ["Main St", "Asylum Ave", "Chapel St", "Bedford St", "Fairfield Ave", "Elm St", "Church St",
           "Park Rd", "Whitney Ave", "State St"]
SPECIALTIES = ["Family Medicine", "Internal Medicine", "Pediatrics", "Obstetrics & Gynecology", "Cardiology",
               "Dermatology", "Orthopedics", "General Dentistry"]

# --- the groups --------------------------------------------------------------------------------------------

GROUPS = [
    {
        "group": {
            "group_number": "100234", "legal_name": "Harbor Light Manufacturing", "ein": "061234567",
            "mailing_address": {"line1": "400 Harbor Light Way", "city": "New Haven", "state": "CT", "zip": "06510"},
            "contacts": [{"kind": "primary", "name": "Renata Okafor", "title": "HR Director",
                          "email": "benefits@harborlight.example", "phone": "203-555-0142"},
                         {"kind": "billing", "name": "Glen Marsh", "title": "Controller",
                          "email": "ap@harborlight.example", "phone": "203-555-0150"}],
            "renewal_month": 1, "employee_count": 212, "waiting_period_days": 30,
            "age_off_policy": "end_of_month", "continuation": "cobra",
        },
        "subgroups": [
            {"subgroup_number": "001", "name": "Office", "plans": ["MED-HMO-1500", "MED-PPO-1000", "DEN-PPO-50"],
             "subscribers": 45},
            {"subgroup_number": "002", "name": "Plant", "plans": ["MED-POS-2000", "MED-EPO-2500", "DEN-PPO-50"],
             "subscribers": 55},
            {"subgroup_number": "003", "name": "Retirees-Sales", "plans": ["MED-PPO-1000", "DEN-PPO-50"],
             "subscribers": 20},
        ],
        "billing": {"rating_method": "composite", "proration": "none"}, "payer": "harbor.billing",
        "prospective": {"enrolled_by": "harbor.enrollment", "subgroup_number": "002", "plan_code": "MED-EPO-2500",
                        "first_name": "Tomasz", "last_name": "Wierzbicki", "gender": "M", "date_of_birth": "1991-08-14",
                        "marital_status": "M", "spouse": ("Ilona", "1992-02-27", "F")},
    },
    {
        "group": {
            "group_number": "200517", "legal_name": "Elm Street Dental Partners", "ein": "062345678",
            "mailing_address": {"line1": "88 Elm St", "city": "Stamford", "state": "CT", "zip": "06901"},
            "contacts": [{"kind": "primary", "name": "Priya Raman", "title": "Practice Manager",
                          "email": "office@elmstreetdental.example", "phone": "203-555-0177"}],
            "renewal_month": 7, "employee_count": 18, "waiting_period_days": 0,
            "age_off_policy": "end_of_year", "continuation": "state", "continuation_months": 30,
        },
        "subgroups": [
            {"subgroup_number": "001", "name": "Clinical", "plans": ["MED-HMO-1500", "MED-PPO-1000", "DEN-PPO-50"],
             "subscribers": 22},
            {"subgroup_number": "002", "name": "Front Office", "plans": ["MED-EPO-2500", "DEN-PPO-50"],
             "subscribers": 12},
        ],
        "billing": {"rating_method": "age_rated", "proration": "daily"}, "payer": "elm.admin",
        "prospective": {"enrolled_by": "elm.admin", "subgroup_number": "001", "plan_code": "MED-PPO-1000",
                        "first_name": "Keiko", "last_name": "Brandt", "gender": "F", "date_of_birth": "1996-05-02",
                        "marital_status": "I", "spouse": None},
    },
]

# --- billing: policy, rates, statements -------------------------------------------------------------------------

# Monthly composite rates per tier, and the age-21 rate that the age curve scales for age-rated groups.
COMPOSITE_RATES = {
    "MED-HMO-1500": {"EMP": "612.40", "ESP": "1286.04", "ECH": "1163.56", "FAM": "1806.58"},
    "MED-POS-2000": {"EMP": "574.10", "ESP": "1205.61", "ECH": "1090.79", "FAM": "1693.60"},
    "MED-PPO-1000": {"EMP": "698.25", "ESP": "1466.33", "ECH": "1326.68", "FAM": "2059.84"},
    "MED-EPO-2500": {"EMP": "521.90", "ESP": "1095.99", "ECH": "991.61", "FAM": "1539.61"},
    "DEN-PPO-50": {"EMP": "38.20", "ESP": "76.40", "ECH": "84.04", "FAM": "122.24"},
}
AGE_21_RATES = {"MED-HMO-1500": "402.16", "MED-POS-2000": "377.00", "MED-PPO-1000": "458.53",
                "MED-EPO-2500": "342.73", "DEN-PPO-50": "29.60"}
# The federal default age curve (45 CFR 147.102): the factor of each ACA age band against age 21.
AGE_CURVE = {"0-14": "0.765", "15": "0.833", "16": "0.859", "17": "0.885", "18": "0.913", "19": "0.941",
             "20": "0.970", "21": "1.000", "22": "1.000", "23": "1.000", "24": "1.000", "25": "1.004",
             "26": "1.024", "27": "1.048", "28": "1.087", "29": "1.119", "30": "1.135", "31": "1.159",
             "32": "1.183", "33": "1.198", "34": "1.214", "35": "1.222", "36": "1.230", "37": "1.238",
             "38": "1.246", "39": "1.262", "40": "1.278", "41": "1.302", "42": "1.325", "43": "1.357",
             "44": "1.397", "45": "1.444", "46": "1.500", "47": "1.563", "48": "1.635", "49": "1.706",
             "50": "1.786", "51": "1.865", "52": "1.952", "53": "2.040", "54": "2.135", "55": "2.230",
             "56": "2.333", "57": "2.437", "58": "2.548", "59": "2.603", "60": "2.714", "61": "2.810",
             "62": "2.873", "63": "2.952", "64+": "3.000"}


def rate_table(spec):
    """[{plan_code, rate_key, amount}] for every plan the group offers, by its rating method."""
    plans = sorted({code for subgroup in spec["subgroups"] for code in subgroup["plans"]})
    if spec["billing"]["rating_method"] == "composite":
        return [{"plan_code": code, "rate_key": tier, "amount": amount}
                for code in plans for tier, amount in COMPOSITE_RATES[code].items()]
    return [{"plan_code": code, "rate_key": band,
             "amount": str((Decimal(AGE_21_RATES[code]) * Decimal(factor)).quantize(Decimal("0.01"), ROUND_HALF_UP))}
            for code in plans for band, factor in AGE_CURVE.items()]


def load_billing(carrier, spec, today, summary):
    """The group's billing policy and its rates for this plan year and the next (billing learns the offerings
    from roster's events, so the rate load is retried until it knows them)."""
    number = spec["group"]["group_number"]
    carrier.call("PUT", "/api/v1/admin/groups/%s/billing-policy" % number, json=spec["billing"],
                 retry_until=404, seconds=30)
    year_start = plan_year_start(today, spec["group"]["renewal_month"])
    for start in (year_start, year_start.replace(year=year_start.year + 1)):
        carrier.call("PUT", "/api/v1/admin/groups/%s/rates" % number, retry_until=(404, 422), seconds=30,
                     json={"plan_year_start": start.isoformat(), "rates": rate_table(spec)})
    summary.append("group %s: %s rates (%s proration) for the plan years from %s" % (
        number, spec["billing"]["rating_method"].replace("_", "-"), spec["billing"]["proration"],
        year_start.isoformat()))


def issue_statements(carrier, today, summary):
    """Last month's cut and this month's (when the 15th has passed), once roster's events have reached billing:
    the demo has statements to look at and pay."""
    carrier.wait_for_events()
    previous_cut = (today.replace(day=1) - timedelta(days=1)).replace(day=15)
    for as_of in (previous_cut, today):
        run = carrier.call("POST", "/api/v1/admin/jobs/statement-run", json={"as_of": as_of.isoformat()}).json()
        summary.append("statement run as of %s: %s statements for coverage month %s" % (
            as_of.isoformat(), run.get("statements"), run.get("coverage_month")))


DEMO_BANK_ACCOUNT = {"nickname": "Operating account", "holder_name": "Demo Employer", "account_type": "checking",
                     "routing_number": "021000021", "account_number": "000123456789"}


def pay_this_month(payer, spec, today, summary):
    """The group pays this month's statements (due on the 1st) in full, one payment split across its accounts, from a stored
    bank account: the demo shows a payment history and a current account (an unpaid month would make the
    delinquency job end the demo group's coverage). Its Idempotency-Key makes a rerun pay nothing twice."""
    number = spec["group"]["group_number"]
    payer.call("POST", "/api/v1/groups/%s/payment-methods" % number, json=DEMO_BANK_ACCOUNT, tolerate=(409,))
    method = payer.call("GET", "/api/v1/groups/%s/payment-methods" % number).json()["items"][0]
    month = today.replace(day=1)  # this month's statements: due on the 1st, already past
    statements = payer.call("GET", "/api/v1/groups/%s/invoices" % number,
                            params={"number": "S%s" % month.strftime("%Y%m"), "limit": 200}).json()["items"]
    allocations = [{"account_number": item["account_number"], "statement_number": item["statement_number"],
                    "amount": item["amount_due"]} for item in statements if Decimal(item["amount_due"]) > 0]
    if not allocations:
        return
    amount = sum(Decimal(allocation["amount"]) for allocation in allocations)
    paid = payer.call("POST", "/api/v1/groups/%s/payments" % number,
                      json={"method_id": method["id"], "amount": str(amount), "allocations": allocations},
                      headers={"Idempotency-Key": "demo-%s-%s" % (number, month.strftime("%Y%m"))}).json()
    summary.append("group %s: %s paid %s for %s (payment %s, %d accounts)" % (
        number, spec["payer"], amount, month.strftime("%B %Y"), paid.get("payment_number"), len(allocations)))


# --- the users ---------------------------------------------------------------------------------------------------

USERS = [
    # username, first name, last name, e-mail, kind, role, group (None: carrier staff), subgroups, delegated actions
    ("carrier.admin", "Casey", "Admin", "carrier.admin@carrier.example", "carrier", "carrier_staff", None, None, None),
    ("carrier.service", "Morgan", "Lake", "morgan.lake@carrier.example", "carrier", "carrier_staff", None, None,
     None),
    ("harbor.admin", "Renata", "Okafor", "renata.okafor@harborlight.example", "group", "group_admin", "100234", None,
     None),
    ("harbor.enrollment", "Luis", "Ferreira", "luis.ferreira@harborlight.example", "group", "enrollment_manager",
     "100234", None, None),
    ("harbor.billing", "Glen", "Marsh", "glen.marsh@harborlight.example", "group", "billing_manager", "100234", None,
     None),
    ("harbor.viewer", "Ada", "Kowalczyk", "ada.kowalczyk@harborlight.example", "group", "viewer", "100234", None,
     None),
    ("harbor.broker", "Dev", "Patel", "dev.patel@shorelinebenefits.example", "broker", "broker", "100234", None,
     ["change_roster"]),
    ("harbor.plant.enrollment", "Denise", "Tran", "denise.tran@harborlight.example", "group", "enrollment_manager",
     "100234", ["002"], None),
    ("elm.admin", "Priya", "Raman", "priya.raman@elmstreetdental.example", "group", "group_admin", "200517", None,
     None),
]
FIRMS = {"harbor.broker": "Shoreline Benefits"}
BOOTSTRAP_EXISTS = 3          # identity.bootstrap's exit status for a username that exists
BOOTSTRAP_WAIT_SECONDS = 30   # how long a group user's seeding waits for identity to learn the group
DISPLAY_NAMES = {"carrier.service": "Morgan Lake (carrier service)", "harbor.broker": "Dev Patel (Shoreline "
                 "Benefits, broker)", "harbor.plant.enrollment": "Denise Tran (Plant only)"}

FIRST_NAMES = {
    "F": ["Olivia", "Emma", "Ava", "Sophia", "Mia", "Amara", "Grace", "Nadia", "Lucia", "Hannah", "Zoe", "Priya",
          "Chloe", "Leah", "Rosa", "Mei", "Aisha", "Clara", "Elena", "Tessa"],
    "M": ["Liam", "Noah", "Mateo", "Elijah", "James", "Omar", "Lucas", "Ethan", "Samuel", "Kofi", "Daniel",
          "Arjun", "Hugo", "Felix", "Marcus", "Diego", "Owen", "Tariq", "Caleb", "Jonah"],
}
LAST_NAMES = ["Abernathy", "Baptiste", "Castellano", "Donovan", "Eriksen", "Fitzgerald", "Gallagher", "Hakimi",
              "Iverson", "Jablonski", "Kaminski", "Lindqvist", "Moreau", "Nakamura", "Okonkwo", "Pellegrino",
              "Quintero", "Rasmussen", "Sandoval", "Takahashi", "Underwood", "Valdez", "Whitfield", "Xu",
              "Yamamoto", "Zielinski", "Alvarez", "Brennan", "Chowdhury", "Delgado", "Esposito", "Fontaine",
              "Greenberg", "Holloway", "Ibarra", "Jovanovic", "Kowalski", "Lombardi", "McAllister", "Novak"]


class DemoFailed(Exception):
    """The gateway answered something the demo cannot go on from."""


# --- dates --------------------------------------------------------------------------------------------------

def plan_year_start(today, renewal_month):
    """The start of the plan year `today` falls in, for a group renewing on the 1st of `renewal_month`."""
    start = date(today.year, renewal_month, 1)
    return start if start <= today else date(today.year - 1, renewal_month, 1)


def first_of_next_month(day):
    return (day.replace(day=1) + timedelta(days=32)).replace(day=1)


def years_before(day, years, rng):
    """A date about `years` years before `day` (any day of that year)."""
    return date(day.year - years, 1, 1) + timedelta(days=rng.randrange(365))


# --- the HTTP client -----------------------------------------------------------------------------------------

class Gateway:
    def __init__(self, base_url, token):
        self.base_url = base_url
        self.session = requests.Session()
        self.session.headers["Authorization"] = "Bearer %s" % token

    def call(self, method, path, expect=(200, 201), tolerate=(), retry_until=(), seconds=0, **kwargs):
        """The response when its status is in `expect` or `tolerate`, else DemoFailed naming the problem. A
        status in `retry_until` is asked again for up to `seconds` (a service still catching up on events)."""
        retry_until = (retry_until,) if isinstance(retry_until, int) else retry_until
        deadline = time.monotonic() + seconds
        while True:
            try:
                response = self.session.request(method, self.base_url + path, timeout=TIMEOUT, **kwargs)
            except requests.RequestException as exc:
                raise DemoFailed("%s %s: the gateway at %s did not answer (%s)" % (
                    method, path, self.base_url, type(exc).__name__)) from None
            if response.status_code in expect or response.status_code in tolerate:
                return response
            if response.status_code not in retry_until or time.monotonic() > deadline:
                raise DemoFailed("%s %s answered %d: %s" % (method, path, response.status_code,
                                                             describe(response)))
            time.sleep(0.5)

    def wait_for_events(self, seconds=60):
        """Until every service has published its outbox (/health counts what is unpublished), and a moment for
        the consumers to apply the last of it."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            health = self.session.get(self.base_url + "/health", timeout=TIMEOUT).json()
            if not any((service or {}).get("outbox_unpublished") for service in health.get("services", {}).values()):
                break
            time.sleep(0.5)
        time.sleep(3)


def describe(response):
    """The problem+json's code, detail and per-field errors, or the start of the body."""
    try:
        body = response.json()
    except ValueError:
        return response.text[:500]
    if not isinstance(body, dict):
        return str(body)[:500]
    parts = [str(body.get(key)) for key in ("code", "title", "detail") if body.get(key)]
    if body.get("errors"):
        parts.append(json.dumps(body["errors"])[:1500])
    text = " - ".join(parts) or str(body)[:500]
    request_id = response.headers.get("X-Request-ID")
    return "%s (request id %s: see the services' logs)" % (text, request_id) if request_id else text


# --- what is loaded -----------------------------------------------------------------------------------------

def npi(number):
    """A 10-digit NPI with a valid check digit (Luhn over the prefix 80840 + the first nine digits)."""
    base = "%09d" % number
    digits = [int(d) for d in "80840" + base]
    total = 0
    for index, digit in enumerate(reversed(digits)):
        if index % 2 == 0:
            digit *= 2
            if digit > 9:
                digit -= 9
        total += digit
    return base + str((10 - total % 10) % 10)


def providers(rng):
    """40 providers: ten per ZIP code, each in one to three of the plans' networks."""
    networks = sorted({plan["network"] for plan in PLANS if plan["product"] == "medical"})
    loaded = []
    for index in range(40):
        city, zip_code = PLACES[index % len(PLACES)]
        specialty = SPECIALTIES[index % len(SPECIALTIES)]
        gender = rng.choice("FM")
        name = "%s %s, %s" % (rng.choice(FIRST_NAMES[gender]), rng.choice(LAST_NAMES),
                              "DDS" if specialty == "General Dentistry" else rng.choice(["MD", "DO", "MD"]))
        if specialty == "General Dentistry":
            in_networks = ["DENTAL"]
        else:
            in_networks = sorted(rng.sample(networks, rng.randint(1, 3)))
            if specialty in ("Family Medicine", "Internal Medicine", "Pediatrics") and "SELECT" not in in_networks:
                in_networks = sorted(in_networks + ["SELECT"])  # PCPs for the HMO and POS in every ZIP
        loaded.append({
            "npi": npi(192000000 + index * 7919), "name": name, "specialty": specialty,
            "phone": "203-555-%04d" % (1000 + index),
            "address": {"line1": "%d %s" % (rng.randint(10, 999), rng.choice(STREETS)), "city": city, "state": "CT",
                        "zip": zip_code},
            "accepting_new_patients": rng.random() < 0.8, "networks": in_networks,
        })
    return loaded


class People:
    """Names, birth dates and SSNs, unique across the demo (SSNs: valid area, group and serial numbers)."""

    def __init__(self, rng):
        self.rng = rng
        self.ssns = set()

    def ssn(self):
        while True:
            area = self.rng.randint(1, 665)
            value = "%03d%02d%04d" % (area, self.rng.randint(1, 99), self.rng.randint(1, 9999))
            if value not in self.ssns:
                self.ssns.add(value)
                return value

    def first_name(self, gender):
        return self.rng.choice(FIRST_NAMES[gender])


def census_rows(spec, today, people, rng):
    """The census of one group (CSV rows as dicts) and the tiers it makes: each subscriber with their family
    according to a tier drawn with realistic weights; coverage from the plan year's start, or from the first
    of the month after hire for people hired since."""
    rows, tiers = [], {tier: 0 for tier in TIERS}
    year_start = plan_year_start(today, spec["group"]["renewal_month"])
    waiting = timedelta(days=spec["group"]["waiting_period_days"])
    for subgroup in spec["subgroups"]:
        medical = [code for code in subgroup["plans"] if code.startswith("MED-")]
        retirees = subgroup["name"].startswith("Retirees")
        for _ in range(subgroup["subscribers"]):
            tier = rng.choices(TIERS, weights=[45, 15, 15, 25] if not retirees else [50, 40, 5, 5])[0]
            gender = rng.choice("FM")
            last_name = rng.choice(LAST_NAMES)
            age = rng.randint(58, 64) if retirees and rng.random() < 0.6 else rng.randint(23, 62)
            subscriber_dob = years_before(today, age, rng)
            hire = years_before(today, rng.randint(0, min(25, age - 20)), rng)
            hire = min(hire, today - timedelta(days=45))
            effective = max(year_start, first_of_next_month(hire + waiting))
            if effective > today:  # a hire too recent for coverage today: make them an earlier hire
                hire = year_start - timedelta(days=rng.randint(40, 400))
                effective = year_start
            ssn = people.ssn()
            common = {"subgroup_number": subgroup["subgroup_number"], "plan_code": rng.choice(medical),
                      "effective_date": effective.isoformat()}
            rows.append(dict(common, relationship="self", subscriber_ssn="", first_name=people.first_name(gender),
                             last_name=last_name, date_of_birth=subscriber_dob.isoformat(), gender=gender, ssn=ssn,
                             hire_date=hire.isoformat()))
            family = []
            if tier in ("ESP", "FAM"):
                spouse_gender = "M" if gender == "F" else "F"
                family.append(("spouse", spouse_gender, years_before(today, max(21, age + rng.randint(-5, 5)), rng)))
            if tier in ("ECH", "FAM"):
                for _ in range(rng.choices([1, 2, 3], weights=[45, 40, 15])[0]):
                    child_age = rng.randint(0, min(25, max(0, age - 20)))
                    family.append(("child", rng.choice("FM"), years_before(today, child_age, rng)))
            for relationship, member_gender, dob in family:
                dob = min(dob, today - timedelta(days=30))
                rows.append(dict(common, relationship=relationship, subscriber_ssn=ssn,
                                 first_name=people.first_name(member_gender), last_name=last_name,
                                 date_of_birth=dob.isoformat(), gender=member_gender,
                                 # only a newborn may be on file without an SSN yet
                                 ssn="" if (today - dob).days < 300 else people.ssn(),
                                 hire_date=""))
            tiers[tier] += 1
    return rows, tiers


CENSUS_COLUMNS = ["subgroup_number", "plan_code", "relationship", "subscriber_ssn", "first_name", "last_name",
                  "date_of_birth", "gender", "ssn", "hire_date", "effective_date"]


def census_csv(rows):
    import csv
    import io

    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=CENSUS_COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


def prospective_enrollment(spec, today, people):
    """A new hire starting this month: coverage begins on a later first of the month (pending until then)."""
    person = spec["prospective"]
    hire = max(today + timedelta(days=1), first_of_next_month(today) - timedelta(days=3))
    address = dict(spec["group"]["mailing_address"], line1="%d Orchard Ln" % (10 + len(people.ssns) % 80))
    body = {
        "subgroup_number": person["subgroup_number"], "plan_code": person["plan_code"],
        "subscriber": {
            "first_name": person["first_name"], "last_name": person["last_name"],
            "date_of_birth": person["date_of_birth"], "gender": person["gender"],
            "marital_status": person["marital_status"], "ssn": people.ssn(),
            "email": "%s.%s@mail.example" % (person["first_name"].lower(), person["last_name"].lower()),
            "mailing_address": address, "hire_date": hire.isoformat(), "employment_status": "active",
        },
        "dependents": [],
    }
    if person["spouse"]:
        first_name, dob, gender = person["spouse"]
        body["dependents"].append({"relationship": "spouse", "first_name": first_name,
                                   "last_name": person["last_name"], "date_of_birth": dob, "gender": gender,
                                   "ssn": people.ssn(), "elect_coverage": True})
    return body


# --- loading --------------------------------------------------------------------------------------------------

def load_group(carrier, spec, today, people, rng, summary):
    """Create the group, its subgroups and offerings, import its census. A group that exists already (409) is
    completed where an earlier run stopped, else left as it is. Returns the prospective enrollment its own user
    still has to make (None when it is there already): group users are seeded once identity knows the group."""
    number, name = spec["group"]["group_number"], spec["group"]["legal_name"]
    # Everything is drawn whether or not the group is loaded, so each group's data is the same every run.
    rows, tiers = census_rows(spec, today, people, rng)
    enrollment = prospective_enrollment(spec, today, people)

    year_start = plan_year_start(today, spec["group"]["renewal_month"])
    group = {key: value for key, value in spec["group"].items() if key != "renewal_month"}
    group["renewal_date"] = year_start.isoformat()
    created = carrier.call("POST", "/api/v1/admin/groups", json=group, expect=(201,), tolerate=(409,))
    members = enrolled = None
    if created.status_code == 409:
        members = carrier.call("GET", "/api/v1/groups/%s/members" % number, params={"limit": 1}).json()["total"]
        enrolled = find_subscriber(carrier, number, enrollment["subscriber"])
        if members and enrolled:
            summary.append("group %s %s: already loaded (%d members), skipped" % (number, name, members))
            return None
    done = []
    if not members:
        for subgroup in spec["subgroups"]:
            carrier.call("POST", "/api/v1/admin/groups/%s/subgroups" % number, expect=(201,), tolerate=(409,),
                         json={"subgroup_number": subgroup["subgroup_number"], "name": subgroup["name"]})
            carrier.call("PUT", "/api/v1/admin/groups/%s/subgroups/%s/plans" % (
                number, subgroup["subgroup_number"]), json={"plan_year_start": year_start.isoformat(),
                                                            "plan_codes": subgroup["plans"]})
        # The next plan year, as carrier staff load it for renewal (the same plans again): open enrollment opens
        # 30 days before it. Refused (409) once open enrollment has started: it was loaded by an earlier run.
        next_year = year_start.replace(year=year_start.year + 1)
        carrier.call("POST", "/api/v1/admin/groups/%s/plan-years" % number, expect=(200, 201), tolerate=(409,),
                     json={"plan_year_start": next_year.isoformat(), "plan_mappings": [],
                           "offerings": [{"subgroup_number": subgroup["subgroup_number"],
                                          "plan_codes": subgroup["plans"]} for subgroup in spec["subgroups"]]})
        imported = carrier.call("POST", "/api/v1/admin/groups/%s/census" % number, data=census_csv(rows).encode(),
                                headers={"Content-Type": "text/csv"}).json()
        done.append("%d subgroups, %s members imported by census (subscribers by tier: %s)" % (
            len(spec["subgroups"]), imported.get("imported"), ", ".join("%s %d" % item for item in tiers.items())))
    summary.append("group %s %s: %s" % (number, name, "; ".join(done) or "completed"))
    return None if enrolled else enrollment


def enroll_prospective(user, spec, enrollment, summary):
    number = spec["group"]["group_number"]
    result = user.call("POST", "/api/v1/groups/%s/subscribers" % number, json=enrollment, expect=(201,)).json()
    summary.append("group %s: %s %s enrolled by %s from %s (%s, confirmation %s)" % (
        number, enrollment["subscriber"]["first_name"], enrollment["subscriber"]["last_name"],
        spec["prospective"]["enrolled_by"], result.get("effective_date"), result.get("status"),
        result.get("confirmation_number")))


def find_subscriber(client, group_number, person):
    """Whether the group has this person as a subscriber already (any status but cancelled)."""
    found = client.call("GET", "/api/v1/groups/%s/members" % group_number,
                        params={"last_name": person["last_name"], "first_name": person["first_name"],
                                "date_of_birth": person["date_of_birth"]}).json()
    return any(item.get("relationship") == "subscriber" for item in found["items"])


# --- the users: seeded with identity's bootstrap CLI, signed in for real ----------------------------------------

def totp_code(secret, step):
    """RFC 6238: HMAC-SHA1 over the 30-second time step, 6 digits."""
    key = base64.b32decode(secret + "=" * (-len(secret) % 8))
    digest = hmac.new(key, struct.pack(">Q", step), hashlib.sha1).digest()
    offset = digest[-1] & 0x0F
    return "%06d" % ((struct.unpack(">I", digest[offset:offset + 4])[0] & 0x7FFFFFFF) % 1000000)


def new_password():
    """16+ characters from every class, so any reasonable password policy takes it."""
    return "Demo-%s-%s7!" % (secrets.token_urlsafe(9), secrets.choice("ABCDEFGHJKLMNPQRSTUVWXYZ"))


def new_totp_secret():
    return base64.b32encode(secrets.token_bytes(20)).decode("ascii")


class Users:
    """The demo users: credentials kept in var/demo-credentials.json (written after each change, so a failure
    later in the run never loses a password identity already holds), seeded and signed in on demand."""

    def __init__(self, base_url, var_dir, signer):
        self.base_url = base_url
        self.path = os.path.join(var_dir, "demo-credentials.json")
        self.signer = signer
        self.specs = {spec[0]: spec for spec in USERS}
        self.tokens = {}
        self.warnings = []
        self._service_env = None
        previous = {}
        try:
            with open(self.path) as handle:
                previous = {user["username"]: user for user in json.load(handle).get("users", [])}
        except (OSError, ValueError):
            pass
        self.records = {}
        for spec in USERS:
            self.records[spec[0]] = self._record(spec, previous.get(spec[0]) or {})

    @staticmethod
    def _record(spec, previous):
        username, first, last, email, kind, role, group, subgroups, actions = spec
        record = {"username": username, "password": previous.get("password"),
                  "totp_secret": previous.get("totp_secret"), "role": role, "groups": [group] if group else [],
                  "user_id": previous.get("user_id"), "name": DISPLAY_NAMES.get(username, "%s %s" % (first, last)),
                  "email": email, "kind": kind}
        if subgroups:
            record["subgroups"] = list(subgroups)
        if actions:
            record["actions"] = list(actions)
        return record

    def save(self):
        os.makedirs(os.path.dirname(self.path), exist_ok=True)
        body = {
            "note": "Demo users of identity: sign in with username + password, then a TOTP code from totp_secret "
                    "(any authenticator app, or `python scripts/demo_data.py token USERNAME` prints a fresh "
                    "access token). access_token is from this run's sign-in (token_source 'signed_in', valid "
                    "minutes: access_token_expires_at) or, if that sign-in failed, minted with the development "
                    "key (token_source 'minted', valid %d hours). Use it as 'Authorization: Bearer <token>'."
                    % TOKEN_HOURS,
            "users": [self.records[spec[0]] for spec in USERS],
        }
        with open(os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as handle:
            json.dump(body, handle, indent=2)

    def gateway(self, username):
        """A Gateway signed in as this demo user (seeded first if it has to be)."""
        return Gateway(self.base_url, self.ensure(username))

    def ensure(self, username):
        """The user's access token: sign in with the stored credentials; if that fails, seed the user (with the
        stored credentials, else new ones) and sign in; if that fails too, a minted token (with a warning)."""
        if username in self.tokens:
            return self.tokens[username]
        record = self.records[username]
        stored = bool(record["password"] and record["totp_secret"])
        signed_in = self.sign_in(record) if stored else None
        if signed_in is None:
            if not stored:
                record["password"], record["totp_secret"] = new_password(), new_totp_secret()
            if self.bootstrap(record):
                self.save()
                signed_in = self.sign_in(record, report=True)
            else:
                if not stored:  # never write credentials that do not belong to the account
                    record["password"] = record["totp_secret"] = None
                self.warnings.append(
                    "%s exists in identity already, and %s: left as it is, its access_token is minted (`make "
                    "clean` starts over with new demo users)" % (username, (
                        "does not sign in with its credentials in %s" if stored else "%s has no credentials for it")
                        % self.path))
        if signed_in is not None:
            record.update(access_token=signed_in["access_token"], token_source="signed_in",
                          access_token_expires_at=(datetime.now(timezone.utc) + timedelta(
                              seconds=int(signed_in.get("expires_in") or 600))).isoformat(timespec="seconds"))
            user = signed_in.get("user") or {}
            record["user_id"] = user.get("user_id") or record["user_id"]
        else:
            record.update(access_token=self.mint(record), token_source="minted")
            record.pop("access_token_expires_at", None)
        self.save()
        self.tokens[username] = record["access_token"]
        return record["access_token"]

    def bootstrap(self, record):
        """python -m identity.bootstrap user ...: True when it created the user, False when the username exists
        (exit 3: left as it is). A group user is refused (exit 2, "try again") until identity knows the group
        from roster's events, a moment after roster created it: tried again for a while."""
        username, first, last, email, kind, role, group, subgroups, actions = self.specs[record["username"]]
        argv = [sys.executable, "-m", "identity.bootstrap", "user", "--config", "services/identity/config.yaml",
                "--username", username, "--email", email, "--first", first, "--last", last, "--kind", kind,
                "--password", "-", "--totp-secret", record["totp_secret"]]  # the password on stdin, not in `ps`
        if kind in ("broker", "tpa"):
            argv += ["--firm", FIRMS[username]]
        if group:
            argv += ["--group", group, "--role", role]
            if subgroups:
                argv += ["--subgroups", ",".join(subgroups)]
            if actions:
                argv += ["--actions", ",".join(actions)]
        deadline = time.monotonic() + BOOTSTRAP_WAIT_SECONDS
        while True:
            result = subprocess.run(argv, cwd=ROOT, env=self.service_env(), input=record["password"] + "\n",
                                    capture_output=True, text=True, timeout=120)
            output = (result.stdout + result.stderr).strip()
            if result.returncode == 0:
                seeded = json.loads(result.stdout.strip().splitlines()[-1])
                record["user_id"] = seeded.get("user_id") or record["user_id"]
                return True
            if result.returncode == BOOTSTRAP_EXISTS:
                return False
            if "try again" not in output or time.monotonic() > deadline:
                raise DemoFailed("seeding demo user %s with identity.bootstrap failed (exit %s):\n%s" % (
                    username, result.returncode, output[-3000:]))
            time.sleep(0.5)

    def service_env(self):
        """The environment portalctl gives the services (identity's database URL, the field keys): the same
        when this script runs on its own as when `portalctl up --demo` runs it."""
        if self._service_env is None:
            sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
            import portalctl

            self._service_env = portalctl.stack_env()
        return self._service_env

    def sign_in(self, record, report=False):
        """POST /auth/login then /auth/mfa/verify with the TOTP code of this step (or the next one: a code is
        never accepted twice, and a run a few seconds after another may find this step used). The verify answer,
        or None (with a warning when `report`)."""
        session = requests.Session()
        failure = None
        for step_offset in (0, 1):
            try:
                login = session.post(self.base_url + "/api/v1/auth/login", timeout=30, json={
                    "username": record["username"], "password": record["password"]})
                if login.status_code != 200:
                    failure = "login answered %d: %s" % (login.status_code, describe(login))
                    break
                challenge = login.json()
                if "totp" not in challenge.get("methods", []):
                    failure = "login offers %s, not TOTP" % challenge.get("methods")
                    break
                code = totp_code(record["totp_secret"], int(time.time() // 30) + step_offset)
                verify = session.post(self.base_url + "/api/v1/auth/mfa/verify", timeout=30, json={
                    "mfa_token": challenge["mfa_token"], "code": code})
            except requests.RequestException as exc:
                failure = "the gateway did not answer (%s)" % type(exc).__name__
                break
            if verify.status_code == 200:
                return verify.json()
            failure = "mfa/verify answered %d: %s" % (verify.status_code, describe(verify))
        if report:
            self.warnings.append("%s could not sign in (%s): its access_token is minted instead"
                                 % (record["username"], failure))
        return None

    def mint(self, record):
        username, _first, _last, _email, kind, role, group, subgroups, actions = self.specs[record["username"]]
        user_id = record["user_id"] or "demo-%s" % username.replace(".", "-")
        grants = [compact_grant(group, role, subgroups, actions)] if group else []
        return self.signer.issue(user_id, grants, carrier=kind == "carrier", name=record["name"])


def signer_from_key(var_dir):
    key_file = os.environ.get("TOKEN_PRIVATE_KEY_FILE") or os.path.join(var_dir, "keys", "token_private.pem")
    try:
        with open(key_file) as handle:
            return TokenSigner(handle.read(), ttl_seconds=TOKEN_HOURS * 3600)
    except OSError as exc:
        print("demo data: cannot read the development signing key %s (%s); `make run` creates it" % (
            key_file, exc.strerror), file=sys.stderr)
        return None


def print_token(users, username):
    """`token USERNAME`: sign the demo user in and print the access token (nothing else on stdout)."""
    record = users.records.get(username)
    if not record or not record["password"]:
        print("demo data: no demo user %s in %s (run `make run` first)" % (username, users.path), file=sys.stderr)
        return 1
    signed_in = users.sign_in(record, report=True)
    if signed_in is None:
        print("demo data: %s" % "; ".join(users.warnings), file=sys.stderr)
        return 1
    print(signed_in["access_token"])
    return 0


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    base_url = "http://127.0.0.1:%s" % os.environ.get("PORT", "8080")
    var_dir = os.path.abspath(os.environ.get("VAR_DIR", os.path.join(ROOT, "var")))
    signer = signer_from_key(var_dir)
    if signer is None:
        return 1
    users = Users(base_url, var_dir, signer)
    if argv[:1] == ["token"] and len(argv) == 2:
        return print_token(users, argv[1])
    if argv:
        print(__doc__, file=sys.stderr)
        return 2

    rng = random.Random(SEED)
    today = clock.today()
    people = People(rng)
    summary = []
    try:
        # carrier staff first: the carrier admin loads everything; the groups' users need their groups to exist
        for spec in USERS:
            if spec[6] is None:
                users.ensure(spec[0])
        carrier = users.gateway("carrier.admin")
        carrier.call("POST", "/api/v1/admin/plans", json=PLANS)
        directory = providers(rng)
        carrier.call("POST", "/api/v1/admin/providers", json=directory)
        summary.append("carrier: %d plans (%s), %d providers in ZIP codes %s" % (
            len(PLANS), ", ".join(plan["plan_code"] for plan in PLANS), len(directory),
            ", ".join(zip_code for _, zip_code in PLACES)))
        pending = [(spec, load_group(carrier, spec, today, people, rng, summary)) for spec in GROUPS]
        for spec in USERS:
            users.ensure(spec[0])
        for spec, enrollment in pending:
            if enrollment is not None:
                enroll_prospective(users.gateway(spec["prospective"]["enrolled_by"]), spec, enrollment, summary)
        for spec in GROUPS:
            load_billing(carrier, spec, today, summary)
        issue_statements(carrier, today, summary)
        for spec in GROUPS:
            pay_this_month(users.gateway(spec["payer"]), spec, today, summary)
    except DemoFailed as exc:
        print("demo data: %s" % exc, file=sys.stderr)
        return 1
    finally:
        for warning in users.warnings:
            print("demo data: warning: %s" % warning, file=sys.stderr)

    print("demo data (business date %s):" % today.isoformat())
    for line in summary:
        print("  " + line)
    sources = sorted({record.get("token_source", "?") for record in users.records.values()})
    print("  %d demo users (password + TOTP; access tokens %s): %s" % (
        len(users.records), " / ".join(sources), users.path))
    return 0


if __name__ == "__main__":
    sys.exit(main())
