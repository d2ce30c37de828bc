"""Load the demo data set of API.md for `make run` (never used by production configuration).

It goes in through the gateway's HTTP API like any client's (scripts/portalctl.py runs it once the stack
answers /health), as carrier staff and group users whose access tokens it mints with the development
private key (TOKEN_PRIVATE_KEY_FILE, written by portalctl under var/keys; valid 12 hours):

- a demo carrier: four medical plans (an HMO and a POS that require a PCP, a PPO, an EPO) and a dental
  plan; 40 providers in four ZIP codes and the plans' networks;
- group 100234 Harbor Light Manufacturing (subgroups 001 Office, 002 Plant, 003 Retirees-Sales) and group
  200517 Elm Street Dental Partners (001 Clinical, 002 Front Office), each offered plans for the current
  and the next plan year; a few hundred members across the tiers EMP, ESP, ECH and FAM, loaded by the
  census import (one request per group), and two future-dated (prospective) enrollments made by the
  groups' own users;
- var/demo-credentials.json: carrier staff, one user of each role on 100234 (and a broker allowed to change
  the roster, and an enrollment manager limited to subgroup 002), a group admin of 200517, each with an
  access token.

Deterministic (one seeded random generator) and safe to run again: a group that already exists (409) and
already has members is skipped; plans and providers are upserts; tokens are minted afresh each run.
Environment: PORT (the gateway on 127.0.0.1, default 8080), TOKEN_PRIVATE_KEY_FILE, VAR_DIR (default ./var),
BUSINESS_DATE / CARRIER_TIMEZONE (the business clock). Exits 1 with what failed if the gateway answers an
error it should not.
"""
import json
import os
import random
import sys
import warnings
from datetime import date, timedelta

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
        "prospective": {"enrolled_by": "elm.admin", "subgroup_number": "001", "plan_code": "MED-PPO-1000",
                        "first_name": "Keiko", "last_name": "Brandt", "gender": "F", "date_of_birth": "1996-05-02",
                        "marital_status": "I", "spouse": None},
    },
]

# --- the users (sign-in with password and TOTP arrives with identity) ------------------------------------------

USERS = [
    # username, display name, role, group (None: carrier staff), subgroups, delegated actions
    ("carrier.admin", "Carrier Admin", "carrier_staff", None, None, None),
    ("carrier.service", "Morgan Lake (carrier service)", "carrier_staff", None, None, None),
    ("harbor.admin", "Renata Okafor", "group_admin", "100234", None, None),
    ("harbor.enrollment", "Luis Ferreira", "enrollment_manager", "100234", None, None),
    ("harbor.billing", "Glen Marsh", "billing_manager", "100234", None, None),
    ("harbor.viewer", "Ada Kowalczyk", "viewer", "100234", None, None),
    ("harbor.broker", "Shoreline Benefits (broker)", "broker", "100234", None, ["change_roster"]),
    ("harbor.plant.enrollment", "Denise Tran (Plant only)", "enrollment_manager", "100234", ["002"], None),
    ("elm.admin", "Priya Raman", "group_admin", "200517", None, None),
]

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

    def call(self, method, path, expect=(200, 201), tolerate=(), **kwargs):
        """The response when its status is in `expect` or `tolerate`, else DemoFailed naming the problem."""
        try:
            response = self.session.request(method, self.base_url + path, timeout=TIMEOUT, **kwargs)
        except requests.RequestException as exc:
            raise DemoFailed("%s %s: the gateway at %s did not answer (%s)" % (
                method, path, self.base_url, type(exc).__name__)) from None
        if response.status_code in expect or response.status_code in tolerate:
            return response
        raise DemoFailed("%s %s answered %d: %s" % (method, path, response.status_code, describe(response)))


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

def load_group(carrier, user, spec, today, people, rng, summary):
    """Create the group, its subgroups and offerings, import its census, enroll its prospective subscriber.
    A group that exists already (409) is completed where an earlier run stopped, else left as it is."""
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
            return
    done = []
    if not members:
        for subgroup in spec["subgroups"]:
            carrier.call("POST", "/api/v1/admin/groups/%s/subgroups" % number, expect=(201,), tolerate=(409,),
                         json={"subgroup_number": subgroup["subgroup_number"], "name": subgroup["name"]})
            for start in (year_start, year_start.replace(year=year_start.year + 1)):  # this plan year and the next
                carrier.call("PUT", "/api/v1/admin/groups/%s/subgroups/%s/plans" % (
                    number, subgroup["subgroup_number"]), json={"plan_year_start": start.isoformat(),
                                                                "plan_codes": subgroup["plans"]})
        imported = carrier.call("POST", "/api/v1/admin/groups/%s/census" % number, data=census_csv(rows).encode(),
                                headers={"Content-Type": "text/csv"}).json()
        done.append("%d subgroups, %s members imported by census (subscribers by tier: %s)" % (
            len(spec["subgroups"]), imported.get("imported"), ", ".join("%s %d" % item for item in tiers.items())))
    if not enrolled:
        result = user.call("POST", "/api/v1/groups/%s/subscribers" % number, json=enrollment, expect=(201,)).json()
        done.append("%s %s enrolled from %s (%s, confirmation %s)" % (
            enrollment["subscriber"]["first_name"], enrollment["subscriber"]["last_name"],
            result.get("effective_date"), result.get("status"), result.get("confirmation_number")))
    summary.append("group %s %s: %s" % (number, name, "; ".join(done)))


def find_subscriber(client, group_number, person):
    """Whether the group has this person as a subscriber already (any status but cancelled)."""
    found = client.call("GET", "/api/v1/groups/%s/members" % group_number,
                        params={"last_name": person["last_name"], "first_name": person["first_name"],
                                "date_of_birth": person["date_of_birth"]}).json()
    return any(item.get("relationship") == "subscriber" for item in found["items"])


def credentials(signer):
    users = []
    for username, name, role, group, subgroups, actions in USERS:
        if group is None:
            user_id, grants, carrier = "demo-carrier-%s" % username.split(".")[1], [], True
        else:
            user_id = "demo-%s-%s%s" % (role, group, "-" + "-".join(subgroups) if subgroups else "")
            grants, carrier = [compact_grant(group, role, subgroups, actions)], False
        user = {"username": username, "password": None, "totp_secret": None, "role": role,
                "groups": [group] if group else [], "user_id": user_id, "name": name,
                "access_token": signer.issue(user_id, grants, carrier=carrier, name=name)}
        if subgroups:
            user["subgroups"] = list(subgroups)
        if actions:
            user["actions"] = list(actions)
        users.append(user)
    return {
        "note": "Sign-in with username, password and TOTP arrives with the identity service; until then use "
                "access_token as 'Authorization: Bearer <token>' (valid %d hours; `make run` mints new ones)."
                % TOKEN_HOURS,
        "users": users,
    }


def main():
    base_url = "http://127.0.0.1:%s" % os.environ.get("PORT", "8080")
    var_dir = os.path.abspath(os.environ.get("VAR_DIR", os.path.join(ROOT, "var")))
    key_file = os.environ.get("TOKEN_PRIVATE_KEY_FILE") or os.path.join(var_dir, "keys", "token_private.pem")
    try:
        with open(key_file) as handle:
            signer = TokenSigner(handle.read(), ttl_seconds=TOKEN_HOURS * 3600)
    except OSError as exc:
        print("demo data: cannot read the development signing key %s (%s); `make run` creates it" % (
            key_file, exc.strerror), file=sys.stderr)
        return 1
    creds = credentials(signer)
    path = os.path.join(var_dir, "demo-credentials.json")
    os.makedirs(var_dir, exist_ok=True)
    with open(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as handle:
        json.dump(creds, handle, indent=2)
    tokens = {user["username"]: user["access_token"] for user in creds["users"]}
    carrier = Gateway(base_url, tokens["carrier.admin"])

    rng = random.Random(SEED)
    today = clock.today()
    people = People(rng)
    summary = []
    try:
        carrier.call("POST", "/api/v1/admin/plans", json=PLANS)
        directory = providers(rng)
        carrier.call("POST", "/api/v1/admin/providers", json=directory)
        summary.append("carrier: %d plans (%s), %d providers in ZIP codes %s" % (
            len(PLANS), ", ".join(plan["plan_code"] for plan in PLANS), len(directory),
            ", ".join(zip_code for _, zip_code in PLACES)))
        for spec in GROUPS:
            enroller = Gateway(base_url, tokens[spec["prospective"]["enrolled_by"]])
            load_group(carrier, enroller, spec, today, people, rng, summary)
    except DemoFailed as exc:
        print("demo data: %s" % exc, file=sys.stderr)
        return 1

    print("demo data (business date %s):" % today.isoformat())
    for line in summary:
        print("  " + line)
    print("  %d demo users with access tokens valid %d h: %s" % (len(creds["users"]), TOKEN_HOURS, path))
    return 0


if __name__ == "__main__":
    sys.exit(main())
