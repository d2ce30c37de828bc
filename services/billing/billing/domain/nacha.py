"""A NACHA (ACH) file of auto-pay debits: one CCD batch of corporate debits (DOMAIN.md "payments": corporate
debits use entry class CCD). Pure: text in, text out; no database, no nameko.

Layout (NACHA Operating Rules, fixed-width records of exactly 94 characters):
  1 file header      who sends (immediate origin) to which bank (immediate destination), when
  5 batch header     the company (the carrier) debiting, SEC code CCD, entry description PREMIUM, the
                     effective entry date
  6 entry detail     one per debit: the receiver's bank (8-digit DFI id + its check digit), the account number,
                     the amount in cents, the billing account number as the identification number, the trace
                     number (the ODFI's 8-digit routing number + a 7-digit sequence)
  8 batch control    entry count, entry hash (the sum of the 8-digit DFI ids, its last 10 digits), totals
  9 file control     batch count, block count, entry count, entry hash, totals
then records of nine "9"s fill the last block, so the line count is a multiple of the blocking factor 10.

The receiver's account number appears only here, inside the file the bank takes; callers never log it.
"""
import math
import re
import unicodedata
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal

from billing.domain.money import ZERO, cents

RECORD_SIZE = 94
BLOCKING_FACTOR = 10
FILLER = "9" * RECORD_SIZE
DEBITS_ONLY = "225"            # service class code: a batch of debits
SEC_CCD = "CCD"                # corporate credit or debit
ENTRY_DESCRIPTION = "PREMIUM"
TRANSACTION_CODES = {"checking": "27", "savings": "37"}   # debit to a checking / savings account
ENTRY_HASH_MODULUS = 10 ** 10
MAX_AMOUNT_CENTS = 10 ** 10 - 1                          # the entry's 10-digit amount field


class NachaError(ValueError):
    """Data that cannot go into a NACHA file (a bad routing number, an amount too large, ...)."""


@dataclass(frozen=True)
class Originator:
    """The carrier as an ACH originator (config ACH_*)."""
    immediate_destination: str   # the receiving point's routing number (9 digits)
    destination_name: str
    immediate_origin: str        # 10 characters (usually "1" + the company's EIN, or a bank-assigned id)
    company_name: str
    company_id: str              # 10 characters
    odfi_routing: str            # the originating bank's 8-digit routing number (without check digit)


@dataclass(frozen=True)
class Debit:
    """One debit of a receiver's bank account."""
    account_type: str            # checking | savings
    routing_number: str          # 9 digits, the last one the check digit
    account_number: str          # the full account number (decrypted for the file, nowhere else)
    amount: Decimal
    identification: str          # the billing account number, so the group recognises the debit
    receiver_name: str           # the account holder (the group)
    trace_sequence: int          # 0..9999999, unique for the ODFI


@dataclass(frozen=True)
class AchFileText:
    text: str
    entry_count: int
    total_debits: Decimal
    entry_hash: str              # 10 digits


# --- building blocks -----------------------------------------------------------------------------------------

def routing_check_digit(first_eight):
    """The ABA check digit of an 8-digit DFI id (weights 3, 7, 1)."""
    if not re.fullmatch(r"\d{8}", str(first_eight)):
        raise NachaError("A DFI identification has 8 digits.")
    total = sum(int(digit) * weight for digit, weight in zip(first_eight, (3, 7, 1) * 3))
    return str((10 - total % 10) % 10)


def valid_routing_number(routing_number):
    text = str(routing_number)
    return bool(re.fullmatch(r"\d{9}", text)) and routing_check_digit(text[:8]) == text[8]


def trace_number(odfi_routing, sequence):
    """The entry's trace number: the ODFI's 8 digits and a 7-digit sequence."""
    if not re.fullmatch(r"\d{8}", str(odfi_routing)):
        raise NachaError("ACH_ODFI_ROUTING must be 8 digits.")
    if not 0 <= int(sequence) < 10 ** 7:
        raise NachaError("A trace sequence is 0 to 9999999.")
    return "%s%07d" % (odfi_routing, int(sequence))


def transaction_code(account_type):
    try:
        return TRANSACTION_CODES[account_type]
    except KeyError:
        raise NachaError("An auto-pay account is checking or savings, not %r." % account_type) from None


def amount_in_cents(amount):
    value = int(cents(amount) * 100)
    if value <= 0 or value > MAX_AMOUNT_CENTS:
        raise NachaError("A debit is more than 0.00 and at most 99999999.99.")
    return value


def entry_hash(dfi_ids):
    """The sum of the 8-digit DFI ids, its rightmost 10 digits."""
    return "%010d" % (sum(int(dfi) for dfi in dfi_ids) % ENTRY_HASH_MODULUS)


def _alpha(value, width):
    """Left-justified, space-filled, upper-case ASCII (NACHA's alphameric fields)."""
    text = unicodedata.normalize("NFKD", str(value or "")).encode("ascii", "ignore").decode("ascii").upper()
    text = re.sub(r"[^A-Z0-9 .,&'/()-]", " ", text)
    return text[:width].ljust(width)


def _number(value, width):
    """Right-justified, zero-filled digits."""
    text = "%d" % int(value)
    if len(text) > width:
        raise NachaError("%s does not fit in %d digits." % (text, width))
    return text.zfill(width)


def _checked(record):
    if len(record) != RECORD_SIZE:  # a layout mistake here would make the bank reject the whole file
        raise NachaError("record type %s is %d characters, not %d" % (record[:1], len(record), RECORD_SIZE))
    return record


# --- records -------------------------------------------------------------------------------------------------

def file_header(originator, created_at, file_id_modifier="A"):
    return _checked("".join((
        "1", "01",
        " " + _digits(originator.immediate_destination, 9, "ACH_IMMEDIATE_DESTINATION"),
        _alpha(originator.immediate_origin, 10).strip().rjust(10),   # a 9-digit routing number gets a blank
        created_at.strftime("%y%m%d"), created_at.strftime("%H%M"),
        _alpha(file_id_modifier, 1), "094", "%02d" % BLOCKING_FACTOR, "1",
        _alpha(originator.destination_name, 23), _alpha(originator.company_name, 23), _alpha("", 8))))


def batch_header(originator, effective_date, batch_number):
    return _checked("".join((
        "5", DEBITS_ONLY, _alpha(originator.company_name, 16), _alpha("", 20), _alpha(originator.company_id, 10),
        SEC_CCD, _alpha(ENTRY_DESCRIPTION, 10), _alpha("", 6), effective_date.strftime("%y%m%d"),
        "   ",  # settlement date: the ACH operator fills it in
        "1", _digits(originator.odfi_routing, 8, "ACH_ODFI_ROUTING"), _number(batch_number, 7))))


def entry_detail(originator, debit):
    if not valid_routing_number(debit.routing_number):
        raise NachaError("Routing number of the debit to %s fails its check digit." % debit.identification)
    account = re.sub(r"[^0-9A-Za-z]", "", str(debit.account_number))
    if not 0 < len(account) <= 17:
        raise NachaError("The account number of the debit to %s is not 1-17 characters." % debit.identification)
    return _checked("".join((
        "6", transaction_code(debit.account_type), debit.routing_number[:8], debit.routing_number[8],
        account.ljust(17), _number(amount_in_cents(debit.amount), 10), _alpha(debit.identification, 15),
        _alpha(debit.receiver_name, 22), "  ", "0",
        trace_number(originator.odfi_routing, debit.trace_sequence))))


def batch_control(originator, entries, batch_number):
    total = sum(amount_in_cents(debit.amount) for debit in entries)
    return _checked("".join((
        "8", DEBITS_ONLY, _number(len(entries), 6), entry_hash(debit.routing_number[:8] for debit in entries),
        _number(total, 12), _number(0, 12), _alpha(originator.company_id, 10), _alpha("", 19), _alpha("", 6),
        _digits(originator.odfi_routing, 8, "ACH_ODFI_ROUTING"), _number(batch_number, 7))))


def file_control(batch_count, line_count, entries):
    total = sum(amount_in_cents(debit.amount) for debit in entries)
    return _checked("".join((
        "9", _number(batch_count, 6), _number(math.ceil(line_count / BLOCKING_FACTOR), 6),
        _number(len(entries), 8), entry_hash(debit.routing_number[:8] for debit in entries),
        _number(total, 12), _number(0, 12), _alpha("", 39))))


def _digits(value, width, name):
    text = str(value)
    if not re.fullmatch(r"\d{%d}" % width, text):
        raise NachaError("%s must be %d digits." % (name, width))
    return text


# --- the file ------------------------------------------------------------------------------------------------

def debit_file(originator, effective_date, created_at, debits, batch_number=1, file_id_modifier="A"):
    """The file of one CCD batch of `debits`, effective on `effective_date` (the day the banks settle it).
    Lines end with "\\n"; the line count is a multiple of 10 (filled with records of nines)."""
    if not debits:
        raise NachaError("A NACHA file needs at least one entry.")
    if not isinstance(effective_date, date) or not isinstance(created_at, datetime):
        raise NachaError("effective_date is a date and created_at a datetime.")
    debits = list(debits)
    lines = [file_header(originator, created_at, file_id_modifier), batch_header(originator, effective_date,
                                                                                  batch_number)]
    lines += [entry_detail(originator, debit) for debit in debits]
    lines.append(batch_control(originator, debits, batch_number))
    # The file control counts the blocks the file will have once it is filled up, itself included.
    lines.append(file_control(1, len(lines) + 1 + (-(len(lines) + 1)) % BLOCKING_FACTOR, debits))
    lines += [FILLER] * ((-len(lines)) % BLOCKING_FACTOR)
    total = sum((cents(debit.amount) for debit in debits), ZERO)
    return AchFileText("\n".join(lines) + "\n", len(debits), total,
                       entry_hash(debit.routing_number[:8] for debit in debits))


# --- when auto pay debits, when the debit settles ---------------------------------------------------------------



def debit_date(due_date, days_before_due):
    """The day auto pay debits a statement: `days_before_due` (0..10) days before its due date."""
    return due_date - timedelta(days=days_before_due)


def debit_is_due(due_date, days_before_due, as_of):
    """Due on its debit date, or later when a run was missed (the next run catches up)."""
    return debit_date(due_date, days_before_due) <= as_of

