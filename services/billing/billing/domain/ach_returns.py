"""A NACHA return file from the bank: which of our ACH debits came back, and why.

A NACHA file is lines of 94 characters; the first character is the record type: 1 file header, 5 batch
header, 6 entry detail, 7 addenda, 8 batch control, 9 file control (and the 9999... lines that pad the file
to a multiple of 10). A returned entry is a 6 record followed by a 7 record of addenda type 99 that carries
the return reason code (R01 insufficient funds, ...) and the trace number of our original entry, which is
how the payment is found. Positions below are NACHA's, 1-based, as the rules print them.
"""
import re
from dataclasses import dataclass
from decimal import Decimal

from billing.domain.money import cents

RECORD_LENGTH = 94
ENTRY_DETAIL = "6"
ADDENDA = "7"
RETURN_ADDENDA_TYPE = "99"
RECORD_TYPES = ("1", "5", "6", "7", "8", "9")

_RETURN_CODE = re.compile(r"^R(0[1-9]|[1-7]\d|8[0-5])$")   # R01 .. R85
_TRACE = re.compile(r"^\d{15}$")

# The reasons a group is told in words (the rest are named by their code).
RETURN_REASONS = {
    "R01": "Insufficient funds",
    "R02": "Account closed",
    "R03": "No account / unable to locate account",
    "R04": "Invalid account number",
    "R05": "Unauthorized debit to a consumer account",
    "R06": "Returned at the originator's request",
    "R07": "Authorization revoked by the customer",
    "R08": "Payment stopped",
    "R09": "Uncollected funds",
    "R10": "Customer advises not authorized",
    "R16": "Account frozen",
    "R20": "Non-transaction account",
    "R29": "Corporate customer advises not authorized",
}


class ReturnFileError(ValueError):
    """A file that is not a readable NACHA return file; `problems` name each bad line."""

    def __init__(self, problems):
        self.problems = problems
        super().__init__("; ".join(problems))


@dataclass(frozen=True)
class ReturnedEntry:
    original_trace: str     # our entry's trace number: the payment
    return_code: str        # R01 .. R85
    amount: Decimal         # as the bank returned it
    line: int               # the addenda record's line, 1-based


def reason_of(return_code):
    return RETURN_REASONS.get(return_code, "Return reason %s" % return_code)


def parse_returns(text):
    """The returned entries of a NACHA return file, in file order; ReturnFileError naming every bad line.

    Line ends of any kind, blank lines at the end and a header's or control's stripped trailing blanks are
    what editors and mail do to files: they are forgiven (see _record). Anything else that is not a
    94-character record is refused, so a truncated file never passes as one with fewer returns."""
    problems = []
    returned = []
    entry = None   # the last 6 record, for the 7 record after it: (its line, its amount)
    lines = str(text).replace("\r\n", "\n").replace("\r", "\n").split("\n")
    while lines and not lines[-1].strip():
        lines.pop()
    if not lines:
        raise ReturnFileError(["The file is empty."])
    for number, raw in enumerate(lines, start=1):
        record = _record(raw)
        if record is None:
            problems.append("Line %d: a record is %d characters, this one has %d." % (number, RECORD_LENGTH,
                                                                                       len(raw)))
            entry = None
            continue
        kind = record[0]
        if kind not in RECORD_TYPES:
            problems.append("Line %d: %r is not a NACHA record type (1, 5, 6, 7, 8 or 9)." % (number, kind))
            entry = None
        elif kind == ENTRY_DETAIL:
            amount = record[29:39]
            if not amount.isdigit():
                problems.append("Line %d: the amount (positions 30-39) is not 10 digits." % number)
                entry = None
                continue
            entry = (number, cents(Decimal(int(amount)) / 100))
        elif kind == ADDENDA:
            if record[1:3] != RETURN_ADDENDA_TYPE:
                continue   # another kind of addenda (e.g. 05 payment information): not a return
            if entry is None:
                problems.append("Line %d: a return addenda without the entry detail record before it." % number)
                continue
            code, trace = record[3:6], record[6:21]
            if not _RETURN_CODE.match(code):
                problems.append("Line %d: %r is not a return reason code (R01 to R85)." % (number, code))
            elif not _TRACE.match(trace):
                problems.append("Line %d: the original trace number (positions 7-21) is not 15 digits." % number)
            else:
                returned.append(ReturnedEntry(trace, code, entry[1], number))
            entry = None
        else:
            entry = None
    if problems:
        raise ReturnFileError(problems)
    return returned


def _record(line):
    """The line as a 94-character record, or None. Headers and controls (1, 5, 8, 9) end in fields that may be
    blank, which editors strip: they are padded back. Entries and addenda (6, 7) end in a trace number, never
    blank, so a short one is a truncated record."""
    if len(line) == RECORD_LENGTH:
        return line
    trimmed = line.rstrip()
    if trimmed[:1] in ("1", "5", "8", "9") and len(trimmed) <= RECORD_LENGTH:
        return trimmed.ljust(RECORD_LENGTH)
    return None
