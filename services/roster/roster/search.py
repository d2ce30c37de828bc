"""Member search (issue 3: served by indexes on a roster of 100,000 members).

Every filter lands on an index of roster.models.Member, always behind the group id:
  name prefix     ix_members_group_last_name (group_id, last_name_key, first_name_key)
  date of birth   ix_members_group_dob       SSN last 4   ix_members_group_ssn_last4
  status          ix_members_group_status    subgroup     ix_members_subgroup (subgroup_id, last_name_key)
  member id       the unique index on member_id
Names are searched through keys: the name folded to lower-case letters and digits (accents and punctuation
dropped), so "o'br" finds O'Brien and "pena" finds Peña. A prefix is matched with LIKE 'abc%' and the same
range (key >= 'abc' AND key < 'abd'), which a b-tree serves under any collation: on PostgreSQL with a "C"
collation LIKE alone would do, but with en_US and the like only the range reaches the index.

A caller limited to some subgroups only ever sees those: the limit is part of the query, not a filter on
the page after it.
"""
import unicodedata

from sqlalchemy import and_, func, select, text

from portal_contracts.roster_members import RELATIONSHIP_NAMES, MemberSummary
from roster import ssn as ssns
from roster.domain import enrollment as rules
from roster.models import CoverageSpan, Member, Subgroup
from roster.snapshots import current_span

KEY_LENGTH = 60  # Member.last_name_key / first_name_key
MEMBER_SUMMARY = MemberSummary()
HIDDEN_BY_DEFAULT = (rules.CANCELLED,)  # enrollments that never took effect: asked for by status only


def name_key(name):
    """The search key of a name: lower-case letters and digits only, accents removed ("O'Brien-Peña" ->
    "obrienpena"). Every writer of Member.last_name_key / first_name_key uses this."""
    decomposed = unicodedata.normalize("NFKD", (name or "").casefold())
    key = "".join(ch for ch in decomposed if ch.isalnum() and not unicodedata.combining(ch))
    return key[:KEY_LENGTH]


def _next_prefix(prefix):
    """The smallest key after every key starting with `prefix` (keys hold [0-9a-z] and other letters);
    None when there is none (a prefix of z's)."""
    chars = list(prefix)
    while chars:
        last = chars.pop()
        if last == "9":
            return "".join(chars) + "a"
        if last < "z" or not last.isascii():
            return "".join(chars) + chr(ord(last) + 1)
    return None


def prefix_match(column, prefix):
    key = name_key(prefix)
    conditions = [column.like(key + "%"), column >= key]
    upper = _next_prefix(key)
    if upper is not None and key.isascii():
        conditions.append(column < upper)
    return and_(*conditions)


def split_name_query(q):
    """(last-name prefix, first-name prefix) from what someone types: "smi" (a last name), "smith, jo"
    (last, first) or "jo smith" (first last)."""
    if "," in q:
        last, first = q.split(",", 1)
        return last.strip(), first.strip() or None
    words = q.split()
    if len(words) >= 2:
        return words[-1], " ".join(words[:-1])
    return q.strip(), None


def allowed_subgroup_ids(session, group, allowed_numbers):
    """Subgroup ids of the numbers a limited caller may see; None = every subgroup."""
    if allowed_numbers is None:
        return None
    if not allowed_numbers:
        return []
    return list(session.scalars(select(Subgroup.id).where(Subgroup.group_id == group.id,
                                                          Subgroup.subgroup_number.in_(allowed_numbers))))


def member_query(session, group, allowed_ids, filters):
    """The members matching `filters` (SearchFilters or ExportFilters, loaded), or None when nothing can
    match (a subgroup the caller may not see, or that does not exist)."""
    query = select(Member).where(Member.group_id == group.id)
    if allowed_ids is not None:
        query = query.where(Member.subgroup_id.in_(allowed_ids))
    if filters.get("subgroup"):
        subgroup_id = session.scalar(select(Subgroup.id).where(Subgroup.group_id == group.id,
                                                               Subgroup.subgroup_number == filters["subgroup"]))
        if subgroup_id is None or (allowed_ids is not None and subgroup_id not in allowed_ids):
            return None
        query = query.where(Member.subgroup_id == subgroup_id)
    if filters.get("member_id"):
        query = query.where(Member.member_id == filters["member_id"])
    if filters.get("q"):
        last, first = split_name_query(filters["q"])
        query = query.where(prefix_match(Member.last_name_key, last))
        if first:
            query = query.where(prefix_match(Member.first_name_key, first))
    if filters.get("last_name"):
        query = query.where(prefix_match(Member.last_name_key, filters["last_name"]))
    if filters.get("first_name"):
        query = query.where(prefix_match(Member.first_name_key, filters["first_name"]))
    if filters.get("date_of_birth"):
        query = query.where(Member.date_of_birth == filters["date_of_birth"])
    if filters.get("ssn_last4"):
        query = query.where(Member.ssn_last4 == filters["ssn_last4"])
    status = rules.PROSPECTIVE if filters.get("prospective") else filters.get("status")
    if status:
        query = query.where(Member.status == status)
    elif not filters.get("member_id"):
        query = query.where(Member.status.not_in(HIDDEN_BY_DEFAULT))
    return query


def search_members(session, group, allowed_ids, filters):
    """A page of members (ordered by name) and the total matching."""
    query = member_query(session, group, allowed_ids, filters)
    if query is None:
        return [], 0
    total = session.scalar(select(func.count()).select_from(query.with_only_columns(Member.id).subquery()))
    return session.scalars(page_of(query, filters)).all(), total


def page_of(query, filters):
    """One page in name order: the order of ix_members_group_last_name, so a page is read off the index."""
    return (query.order_by(Member.last_name_key, Member.first_name_key, Member.id)
            .offset((filters["page"] - 1) * filters["limit"]).limit(filters["limit"]))


def summaries(session, cipher, group_number, members, show_ssn, today):
    """Search rows: each member with their subscriber's member id, subgroup and coverage today. Three
    look-ups for the whole page (subscribers, subgroups, spans), none per row."""
    if not members:
        return []
    subscriber_ids = {member.subscriber_id for member in members if member.subscriber_id}
    subscriber_numbers = dict(session.execute(select(Member.id, Member.member_id)
                                              .where(Member.id.in_(subscriber_ids))).all()) if subscriber_ids else {}
    subgroup_numbers = dict(session.execute(select(Subgroup.id, Subgroup.subgroup_number).where(
        Subgroup.id.in_({member.subgroup_id for member in members}))).all())
    spans = {}
    for span in session.scalars(select(CoverageSpan).where(CoverageSpan.member_id.in_([m.id for m in members]))
                                .join(CoverageSpan.plan)):
        spans.setdefault(span.member_id, []).append(span)
    rows = []
    for member in members:
        span = current_span(spans.get(member.id, []), today)
        subgroup_number = subgroup_numbers[member.subgroup_id]
        rows.append({
            "member_id": member.member_id,
            "subscriber_member_id": subscriber_numbers.get(member.subscriber_id, member.member_id),
            "relationship": RELATIONSHIP_NAMES.get(member.relationship_code),
            "relationship_code": member.relationship_code, "first_name": member.first_name,
            "middle_name": member.middle_name, "last_name": member.last_name,
            "date_of_birth": member.date_of_birth, "gender": member.gender,
            "ssn": ssns.shown(cipher, member, show_ssn(group_number, subgroup_number)),
            "subgroup_number": subgroup_number,
            "plan_code": span.plan.plan_code if span else None, "tier": span.tier if span else None,
            "effective_from": span.effective_from if span else None,
            "effective_through": span.effective_through if span else None,
            "status": member.status, "also_dependent_elsewhere": member.also_dependent_elsewhere,
        })
    return MEMBER_SUMMARY.dump(rows, many=True)


def refresh_statistics(session):
    """After a bulk load: PostgreSQL's autovacuum gathers planner statistics by itself, SQLite never does, and
    without them it pages a large group in name order instead of using the date-of-birth or SSN index
    (measured: 267 ms before, 0.2 ms after, on 100,000 members)."""
    if session.get_bind().dialect.name == "sqlite":
        session.execute(text("ANALYZE members"))
