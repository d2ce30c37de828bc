"""The payment rules on their own (billing.domain.payments, bank_accounts, ach_returns): ABA check digits, the
settlement date in business days, allocations that add up, the default split oldest month first, refundable
credit, and reading a NACHA return file."""
from datetime import date
from decimal import Decimal

import pytest

from billing.domain import ach_returns, bank_accounts, nacha
from billing.domain import payments as rules
from portal_contracts import billing_payment as wire

D = Decimal
JAN, FEB, MAR, APR = date(2027, 1, 1), date(2027, 2, 1), date(2027, 3, 1), date(2027, 4, 1)


# --- routing numbers ------------------------------------------------------------------------------------

@pytest.mark.parametrize("routing", ["021000021", "011000015", "122105278", "026009593"])
def test_real_routing_numbers_pass_the_3_7_1_check(routing):
    assert bank_accounts.routing_check_digit_ok(routing)
    assert bank_accounts.routing_number_errors(routing) == {}


@pytest.mark.parametrize("routing", ["021000022", "123456789", "011000016"])
def test_a_wrong_check_digit_is_named_on_the_routing_number(routing):
    assert bank_accounts.routing_number_errors(routing) == {
        "routing_number": ["This is not a valid routing number (its check digit does not match)."]}


@pytest.mark.parametrize("routing", ["02100002", "0210000210", "02100002A", ""])
def test_a_routing_number_is_9_digits(routing):
    assert not bank_accounts.routing_check_digit_ok(routing)
    assert bank_accounts.routing_number_errors(routing) == {"routing_number": ["A routing number is 9 digits."]}


def test_the_method_input_takes_digits_typed_in_groups_and_never_repeats_an_account_number():
    loaded = wire.PaymentMethodInput().load({"holder_name": " Harbor Widgets ", "account_type": "checking",
                                             "routing_number": "0210-0002-1", "account_number": "0001 2345 6789"})
    assert (loaded["holder_name"], loaded["routing_number"], loaded["account_number"], loaded["nickname"]) == (
        "Harbor Widgets", "021000021", "000123456789", None)
    errors = wire.PaymentMethodInput().validate({"holder_name": "H", "account_type": "brokerage",
                                                 "routing_number": "021000021", "account_number": "123"})
    assert errors == {"account_type": ["Must be one of: checking, savings."],
                      "account_number": ["An account number is 4 to 17 digits."]}
    too_long = wire.PaymentMethodInput().validate({"holder_name": "H", "account_type": "savings",
                                                   "routing_number": "021000021", "account_number": "1" * 18})
    assert "1" * 18 not in str(too_long)


# --- settlement -----------------------------------------------------------------------------------------

@pytest.mark.parametrize("received, settles", [
    (date(2027, 3, 10), date(2027, 3, 12)),   # Wednesday -> Friday
    (date(2027, 3, 11), date(2027, 3, 15)),   # Thursday -> Monday
    (date(2027, 3, 12), date(2027, 3, 16)),   # Friday -> Tuesday
    (date(2027, 3, 13), date(2027, 3, 16)),   # Saturday -> Tuesday
    (date(2027, 3, 14), date(2027, 3, 16)),   # Sunday -> Tuesday
])
def test_an_ach_payment_settles_two_business_days_after_it_is_received(received, settles):
    assert rules.settlement_date(received) == settles


def test_a_trace_number_is_the_odfi_prefix_and_7_digits_of_the_payment():
    assert nacha.trace_number("02100002", 42) == "021000020000042"


def test_payment_numbers_carry_the_date_and_differ():
    numbers = {rules.new_number("P", date(2027, 3, 10)) for _ in range(50)}
    assert len(numbers) == 50
    assert all(number.startswith("P20270310-") and len(number) == 16 for number in numbers)


# --- allocations ----------------------------------------------------------------------------------------

def test_allocations_that_add_up_exactly_are_good():
    assert rules.allocation_errors(D("1500.00"), [{"amount": D("1000.00")}, {"amount": D("500.00")}]) == {}


def test_allocations_that_do_not_add_up_are_named():
    assert rules.allocation_errors(D("1500.00"), [{"amount": D("1000.00")}, {"amount": D("499.99")}]) == {
        "allocations": ["The allocations add up to 1499.99, not the payment's 1500.00."]}


def test_an_allocation_of_zero_or_less_is_named_by_its_index():
    assert rules.allocation_errors(D("500.00"), [{"amount": D("600.00")}, {"amount": D("-100.00")},
                                                 {"amount": D("0")}]) == {
        "allocations.1.amount": ["An allocation is more than 0.00."],
        "allocations.2.amount": ["An allocation is more than 0.00."]}


def test_without_allocations_the_oldest_open_month_of_any_account_is_paid_first():
    accounts = [("G-001", [(FEB, D("500.00")), (MAR, D("500.00"))]),
                ("G-002", [(JAN, D("300.00")), (FEB, D("300.00")), (MAR, D("300.00"))])]
    assert rules.default_allocations(D("1000.00"), accounts) == [("G-001", D("500.00")), ("G-002", D("500.00"))]
    # JAN 300 (002), FEB 500 (001) + 200 of 300 (002): the same month goes to the account listed first


def test_what_is_left_after_every_open_month_is_a_credit_on_the_first_account():
    accounts = [("G-001", [(MAR, D("0.00"))]), ("G-002", [(MAR, D("250.00"))])]
    assert rules.default_allocations(D("400.00"), accounts) == [("G-001", D("150.00")), ("G-002", D("250.00"))]


def test_with_nothing_open_everything_is_a_credit_on_the_first_account():
    assert rules.default_allocations(D("75.00"), [("G-001", []), ("G-002", [])]) == [("G-001", D("75.00"))]
    assert rules.default_allocations(D("75.00"), []) == []


def test_a_credit_adjustment_month_is_not_paid():
    accounts = [("G-001", [(JAN, D("-40.00")), (FEB, D("100.00"))])]
    assert rules.default_allocations(D("100.00"), accounts) == [("G-001", D("100.00"))]


def test_payment_input_needs_a_positive_amount_and_known_fields():
    errors = wire.PaymentInput().validate({"method_id": "7", "amount": "0.00", "allocations": [],
                                           "note": "x"})
    assert set(errors) == {"method_id", "amount", "allocations", "note"}


# --- refunds --------------------------------------------------------------------------------------------

def test_refundable_credit_is_the_credit_balance_less_open_requests():
    assert rules.refundable_credit(D("-300.00"), D("100.00")) == D("200.00")
    assert rules.refundable_credit(D("-300.00"), D("300.00")) == D("0.00")
    assert rules.refundable_credit(D("50.00"), D("0")) == D("0.00")


def test_a_refund_is_all_of_the_credit_by_default_and_never_more():
    assert rules.refund_amount(None, D("200.00")) == (D("200.00"), {})
    assert rules.refund_amount(D("150.00"), D("200.00")) == (D("150.00"), {})
    assert rules.refund_amount(D("200.01"), D("200.00")) == (
        None, {"amount": ["At most the credit balance of 200.00 can be refunded."]})
    assert rules.refund_amount(None, D("0.00")) == (
        None, {"account_number": ["The account has no credit balance to refund."]})


# --- NACHA return files ---------------------------------------------------------------------------------

def entry_detail(amount_cents, trace="091000010000001", account="123456789"):
    line = "6" + "26" + "02100002" + "1" + account.ljust(17) + "%010d" % amount_cents + "100234".ljust(15) \
        + "HARBOR WIDGETS".ljust(22) + "  " + "1" + trace
    assert len(line) == 94
    return line


def return_addenda(code, original_trace, trace="091000010000001"):
    line = "7" + "99" + code + original_trace + " " * 6 + "02100002" + "INSUFFICIENT".ljust(44) + trace
    assert len(line) == 94
    return line


def return_file(*entries):
    header = "101 021000021 0910000101703151200A094101FIRST HARBOR BANK      HARBOR HEALTH PLAN     "
    batch = "5225HARBOR HEALTH PLAN                  1234567890CCDPREMIUM         270315   1091000010000001"
    control = "8225" + "0" * 90
    records = [header, batch]
    for entry in entries:
        records.extend(entry)
    records.append(control)
    records.append("9" + "0" * 93)
    return "\n".join(records) + "\n"


def test_a_return_file_names_each_original_trace_with_its_reason_and_amount():
    text = return_file([entry_detail(150000), return_addenda("R01", "021000020000042")],
                       [entry_detail(90000, trace="091000010000002"), return_addenda("R02", "021000020000043",
                                                                                     trace="091000010000002")])
    assert ach_returns.parse_returns(text) == [
        ach_returns.ReturnedEntry("021000020000042", "R01", D("1500.00"), 4),
        ach_returns.ReturnedEntry("021000020000043", "R02", D("900.00"), 6)]


def test_windows_line_ends_and_a_stripped_header_are_forgiven():
    text = return_file([entry_detail(2500), return_addenda("R29", "021000020000007")])
    lines = text.split("\n")
    lines[0] = lines[0].rstrip()
    assert [entry.return_code for entry in ach_returns.parse_returns("\r\n".join(lines))] == ["R29"]


def test_a_short_record_and_an_unknown_reason_are_refused_naming_their_lines():
    text = return_file([entry_detail(2500)[:80], return_addenda("R01", "021000020000007")],
                       [entry_detail(100), return_addenda("R99", "021000020000008")])
    with pytest.raises(ach_returns.ReturnFileError) as refused:
        ach_returns.parse_returns(text)
    assert refused.value.problems == [
        "Line 3: a record is 94 characters, this one has 80.",
        "Line 4: a return addenda without the entry detail record before it.",
        "Line 6: 'R99' is not a return reason code (R01 to R85).",
    ]


def test_an_empty_file_is_refused():
    with pytest.raises(ach_returns.ReturnFileError):
        ach_returns.parse_returns("\n\n")


def test_reasons_are_told_in_words_or_by_code():
    assert ach_returns.reason_of("R01") == "Insufficient funds"
    assert ach_returns.reason_of("R61") == "Return reason R61"
