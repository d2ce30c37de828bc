import re
from datetime import date

from messaging import domain


def test_reference_carries_the_date_and_six_unambiguous_characters():
    reference = domain.new_issue_reference(date(2026, 11, 23))
    assert re.fullmatch(r"IR-20261123-[0-9A-HJKMNP-TV-Z]{6}", reference)
    assert not set(reference[-6:]) & set("ILOU")


def test_references_do_not_repeat():
    references = {domain.new_issue_reference(date(2026, 11, 23)) for _ in range(2000)}
    assert len(references) == 2000


def test_a_sender_may_send_five_reports_an_hour():
    assert domain.sender_may_report(0)
    assert domain.sender_may_report(domain.REPORTS_PER_SENDER - 1)
    assert not domain.sender_may_report(domain.REPORTS_PER_SENDER)


def test_confirmation_email_names_the_reference_and_nothing_personal():
    subject, body = domain.issue_confirmation_email("IR-20261123-7KQ3MZ")
    assert "IR-20261123-7KQ3MZ" in subject and "IR-20261123-7KQ3MZ" in body
    assert "@" not in body
