"""The auto-pay NACHA file: every record 94 characters, the line count a multiple of 10, one CCD batch of
debits whose control records (counts, entry hash, totals) match its entries; and when auto pay debits."""
from datetime import date, datetime, timezone
from decimal import Decimal

import pytest

from billing.domain import nacha
from billing.domain import payments as payment_rules

ORIGINATOR = nacha.Originator(immediate_destination="021000021", destination_name="First Harbor Bank",
                              immediate_origin="1234567890", company_name="Harbor Health Plan",
                              company_id="1234567890", odfi_routing="02100002")
CREATED = datetime(2027, 2, 26, 9, 30, tzinfo=timezone.utc)
DEBITS = [
    nacha.Debit("checking", "011000015", "123456789", Decimal("2400.00"), "100234-001", "Harbor Light Mfg", 41),
    nacha.Debit("savings", "021000021", "000987654321", Decimal("1234.56"), "100234-002", "Harbor Light Mfg", 42),
    nacha.Debit("checking", "122105155", "55-7788-99", Decimal("0.01"), "200777-001", "Café Ñandú LLC", 43),
]


def records(text):
    assert text.endswith("\n")
    return text[:-1].split("\n")


def test_every_record_is_94_characters_and_the_file_fills_whole_blocks_of_10():
    built = nacha.debit_file(ORIGINATOR, date(2027, 2, 26), CREATED, DEBITS)
    lines = records(built.text)
    assert all(len(line) == 94 for line in lines)
    assert len(lines) == 10 and len(lines) % 10 == 0
    assert [line[0] for line in lines] == ["1", "5", "6", "6", "6", "8", "9", "9", "9", "9"]
    assert lines[-3:] == ["9" * 94] * 3   # the fill after the file control


def test_the_file_and_batch_headers():
    lines = records(nacha.debit_file(ORIGINATOR, date(2027, 2, 26), CREATED, DEBITS).text)
    header, batch = lines[0], lines[1]
    assert header[1:3] == "01" and header[3:13] == " 021000021" and header[13:23] == "1234567890"
    assert (header[23:29], header[29:33], header[33], header[34:37], header[37:39], header[39]) == (
        "270226", "0930", "A", "094", "10", "1")
    assert header[40:63] == "FIRST HARBOR BANK".ljust(23) and header[63:86] == "HARBOR HEALTH PLAN".ljust(23)
    assert batch[1:4] == "225" and batch[4:20] == "HARBOR HEALTH PL" and batch[40:50] == "1234567890"
    assert (batch[50:53], batch[53:63], batch[69:75], batch[78], batch[79:87], batch[87:94]) == (
        "CCD", "PREMIUM   ", "270226", "1", "02100002", "0000001")


def test_entry_details_carry_the_bank_the_account_the_cents_and_the_trace():
    lines = records(nacha.debit_file(ORIGINATOR, date(2027, 2, 26), CREATED, DEBITS).text)
    first, second, third = lines[2:5]
    assert (first[1:3], first[3:11], first[11], first[12:29], first[29:39], first[39:54], first[54:76],
            first[78], first[79:94]) == ("27", "01100001", "5", "123456789".ljust(17), "0000240000",
                                         "100234-001".ljust(15), "HARBOR LIGHT MFG".ljust(22), "0",
                                         "021000020000041")
    assert (second[1:3], second[3:12], second[12:29], second[29:39], second[79:94]) == (
        "37", "021000021", "000987654321".ljust(17), "0000123456", "021000020000042")
    # Separators leave the account number; names become upper-case ASCII.
    assert (third[12:29], third[29:39], third[54:76]) == ("557788 99".replace(" ", "").ljust(17), "0000000001",
                                                         "CAFE NANDU LLC".ljust(22))


def test_the_control_records_match_the_entries():
    built = nacha.debit_file(ORIGINATOR, date(2027, 2, 26), CREATED, DEBITS)
    lines = records(built.text)
    entries = [line for line in lines if line[0] == "6"]
    batch_control, file_control = lines[5], lines[6]
    hash_of_entries = "%010d" % (sum(int(line[3:11]) for line in entries) % 10 ** 10)
    total_of_entries = sum(int(line[29:39]) for line in entries)
    assert hash_of_entries == "0015410518" == built.entry_hash
    assert total_of_entries == 363457
    assert (batch_control[1:4], batch_control[4:10], batch_control[10:20], batch_control[20:32],
            batch_control[32:44], batch_control[44:54], batch_control[79:87], batch_control[87:94]) == (
        "225", "000003", hash_of_entries, "000000363457", "000000000000", "1234567890", "02100002", "0000001")
    assert (file_control[1:7], file_control[7:13], file_control[13:21], file_control[21:31], file_control[31:43],
            file_control[43:55]) == ("000001", "000001", "00000003", hash_of_entries, "000000363457",
                                     "000000000000")
    assert (built.entry_count, built.total_debits) == (3, Decimal("3634.57"))


def test_a_file_of_more_than_one_block_counts_its_blocks_and_keeps_only_the_last_10_digits_of_the_hash():
    many = [nacha.Debit("checking", "991000012" if index % 2 else "021000021", "12345", Decimal("10.00"),
                        "G-%03d" % index, "Group", index + 1) for index in range(12)]
    # 6 x 99100001 + 6 x 02100002 = 607,200,018: under 10 digits; the mod only bites on huge files.
    lines = records(nacha.debit_file(ORIGINATOR, date(2027, 3, 1), CREATED, many).text)
    assert len(lines) == 20 and all(len(line) == 94 for line in lines)
    file_control = next(line for line in lines if line[0] == "9" and line != "9" * 94)
    assert (file_control[7:13], file_control[13:21], file_control[21:31], file_control[31:43]) == (
        "000002", "00000012", "0607200018", "000000012000")
    assert nacha.entry_hash(["99999999"] * 200) == "%010d" % (99999999 * 200 % 10 ** 10) == "9999999800"


def test_exactly_ten_records_need_no_fill_and_a_file_control_counts_one_block():
    six = [nacha.Debit("checking", "021000021", "1", Decimal("1.00"), "A-%d" % n, "G", n + 1) for n in range(6)]
    lines = records(nacha.debit_file(ORIGINATOR, date(2027, 3, 1), CREATED, six).text)
    assert len(lines) == 10 and lines[-1][0] == "9" and lines[-1] != "9" * 94 and lines[-1][7:13] == "000001"


@pytest.mark.parametrize("debit, message", [
    (nacha.Debit("checking", "021000022", "1", Decimal("1.00"), "A", "G", 1), "check digit"),
    (nacha.Debit("brokerage", "021000021", "1", Decimal("1.00"), "A", "G", 1), "checking or savings"),
    (nacha.Debit("checking", "021000021", "1", Decimal("0.00"), "A", "G", 1), "more than 0.00"),
    (nacha.Debit("checking", "021000021", "1" * 18, Decimal("1.00"), "A", "G", 1), "1-17"),
    (nacha.Debit("checking", "021000021", "1", Decimal("1.00"), "A", "G", 10 ** 7), "trace sequence"),
])
def test_what_cannot_go_into_a_file_is_refused_without_the_account_number(debit, message):
    with pytest.raises(nacha.NachaError) as refused:
        nacha.debit_file(ORIGINATOR, date(2027, 3, 1), CREATED, [debit])
    assert message in str(refused.value) and "1" * 18 not in str(refused.value)


def test_routing_numbers_and_traces():
    assert nacha.valid_routing_number("021000021") and nacha.valid_routing_number("011000015")
    assert not nacha.valid_routing_number("021000022") and not nacha.valid_routing_number("02100002")
    assert nacha.routing_check_digit("12210515") == "5"
    assert nacha.trace_number("02100002", 1234) == "021000020001234"


def test_auto_pay_debits_days_before_the_due_date_catches_up_and_settles_two_business_days_later():
    due = date(2027, 3, 1)  # a Monday
    assert nacha.debit_date(due, 3) == date(2027, 2, 26)
    assert not nacha.debit_is_due(due, 3, date(2027, 2, 25))
    assert nacha.debit_is_due(due, 3, date(2027, 2, 26)) and nacha.debit_is_due(due, 3, date(2027, 3, 4))
    assert nacha.debit_is_due(due, 0, date(2027, 3, 1)) and not nacha.debit_is_due(due, 0, date(2027, 2, 28))
    assert payment_rules.settlement_date(date(2027, 2, 26)) == date(2027, 3, 2)   # Friday -> Tuesday
    assert payment_rules.settlement_date(date(2027, 3, 1)) == date(2027, 3, 3)    # Monday -> Wednesday
    assert payment_rules.settlement_date(date(2027, 2, 27)) == date(2027, 3, 2)   # Saturday -> Tuesday
