"""The roster service's own tables (its database also holds the kit's tables: servicekit.tables).

Structure: carrier plans, groups, subgroups, the plans offered to a subgroup per plan year, providers.
People: members (a subscriber is a member with no `subscriber_id`; dependents point at their
subscriber), their coverage spans, and the enrollment transactions that change them.
Codes are ASC X12 834's (DOMAIN.md), so a later 834 export is a mapping, not a translation.
"""
from datetime import date, datetime

from sqlalchemy import JSON, Boolean, Date, DateTime, ForeignKey, Index, Integer, String, Text, UniqueConstraint, text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


class Base(DeclarativeBase):
    pass


class Plan(Base):
    """A carrier plan the carrier sells (medical, dental, vision)."""
    __tablename__ = "plans"

    id: Mapped[int] = mapped_column(primary_key=True)
    plan_code: Mapped[str] = mapped_column(String(20), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    product: Mapped[str] = mapped_column(String(10))        # medical | dental | vision
    plan_type: Mapped[str] = mapped_column(String(10))      # HMO | POS | PPO | EPO
    network: Mapped[str] = mapped_column(String(40))
    requires_pcp: Mapped[bool] = mapped_column(Boolean, default=False)
    tiers: Mapped[list] = mapped_column(JSON)               # coverage levels sold: ["EMP", "ESP", "ECH", "FAM"]
    status: Mapped[str] = mapped_column(String(10), default="active")  # active | retired


class Group(Base):
    """An employer. Its renewal date starts each plan year."""
    __tablename__ = "groups"

    id: Mapped[int] = mapped_column(primary_key=True)
    group_number: Mapped[str] = mapped_column(String(20), unique=True)
    legal_name: Mapped[str] = mapped_column(String(200))
    ein: Mapped[str] = mapped_column(String(9))
    mailing_address: Mapped[dict] = mapped_column(JSON)
    physical_address: Mapped[dict | None] = mapped_column(JSON)
    contacts: Mapped[list] = mapped_column(JSON, default=list)  # [{kind, name, title, email, phone}]
    renewal_date: Mapped[date] = mapped_column(Date)           # the start of the current or next plan year
    status: Mapped[str] = mapped_column(String(20), default="active")
    employee_count: Mapped[int] = mapped_column(Integer, default=0)  # < 20: state continuation, not COBRA
    waiting_period_days: Mapped[int] = mapped_column(Integer, default=0)  # 0, 30 or 60 (DOMAIN.md)
    age_off_policy: Mapped[str] = mapped_column(String(20), default="end_of_month")  # birthday | end_of_month | end_of_year
    continuation: Mapped[str] = mapped_column(String(10), default="cobra")  # cobra | state
    continuation_months: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))

    subgroups: Mapped[list["Subgroup"]] = relationship(back_populates="group", order_by="Subgroup.subgroup_number")


class Subgroup(Base):
    """A division, location or class of a group; the unit a bill is made for."""
    __tablename__ = "subgroups"

    id: Mapped[int] = mapped_column(primary_key=True)
    group_id: Mapped[int] = mapped_column(ForeignKey("groups.id"))
    subgroup_number: Mapped[str] = mapped_column(String(20))
    name: Mapped[str] = mapped_column(String(200))
    mailing_address: Mapped[dict | None] = mapped_column(JSON)
    contact: Mapped[dict | None] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(20), default="active")

    group: Mapped[Group] = relationship(back_populates="subgroups")

    __table_args__ = (UniqueConstraint("group_id", "subgroup_number", name="uq_subgroups_number"),)


class PlanOffering(Base):
    """A plan offered to a subgroup for one plan year."""
    __tablename__ = "plan_offerings"

    id: Mapped[int] = mapped_column(primary_key=True)
    subgroup_id: Mapped[int] = mapped_column(ForeignKey("subgroups.id"))
    plan_id: Mapped[int] = mapped_column(ForeignKey("plans.id"))
    plan_year_start: Mapped[date] = mapped_column(Date)
    plan_year_end: Mapped[date] = mapped_column(Date)

    plan: Mapped[Plan] = relationship()

    __table_args__ = (UniqueConstraint("subgroup_id", "plan_id", "plan_year_start", name="uq_plan_offerings"),)


class Provider(Base):
    """An entry of the provider directory; `networks` lists the plan networks it is in."""
    __tablename__ = "providers"

    id: Mapped[int] = mapped_column(primary_key=True)
    npi: Mapped[str] = mapped_column(String(10), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    name_key: Mapped[str] = mapped_column(String(200), index=True)  # lower-cased, for prefix search
    specialty: Mapped[str] = mapped_column(String(80))
    phone: Mapped[str | None] = mapped_column(String(30))
    address: Mapped[dict] = mapped_column(JSON)
    zip: Mapped[str] = mapped_column(String(10), index=True)
    accepting_new_patients: Mapped[bool] = mapped_column(Boolean, default=True)


class ProviderNetwork(Base):
    __tablename__ = "provider_networks"

    provider_id: Mapped[int] = mapped_column(ForeignKey("providers.id"), primary_key=True)
    network: Mapped[str] = mapped_column(String(40), primary_key=True, index=True)


class Member(Base):
    """A subscriber (subscriber_id is NULL, relationship "18") or a dependent of one.

    SSNs are stored encrypted (servicekit.crypto) with their last 4 for display and a keyed hash for
    look-ups; never in plain text. `status` is kept current for search: prospective (coverage pending a
    future date), active, cobra, terminated.
    """
    __tablename__ = "members"

    id: Mapped[int] = mapped_column(primary_key=True)
    member_id: Mapped[str] = mapped_column(String(12), unique=True)  # the public id on ID cards
    group_id: Mapped[int] = mapped_column(ForeignKey("groups.id"))
    subgroup_id: Mapped[int] = mapped_column(ForeignKey("subgroups.id"))
    subscriber_id: Mapped[int | None] = mapped_column(ForeignKey("members.id"))
    relationship_code: Mapped[str] = mapped_column(String(2))  # X12 INS02: 18 self, 01 spouse, 19 child, ...
    first_name: Mapped[str] = mapped_column(String(60))
    middle_name: Mapped[str | None] = mapped_column(String(60))
    last_name: Mapped[str] = mapped_column(String(60))
    last_name_key: Mapped[str] = mapped_column(String(60))   # lower-cased last name, for prefix search
    first_name_key: Mapped[str] = mapped_column(String(60))
    date_of_birth: Mapped[date] = mapped_column(Date)
    gender: Mapped[str] = mapped_column(String(1))            # M | F | U
    marital_status: Mapped[str | None] = mapped_column(String(1))  # X12: I single, M married, D divorced, W widowed, R partner, U unknown
    ssn_ciphertext: Mapped[str | None] = mapped_column(Text)
    ssn_last4: Mapped[str | None] = mapped_column(String(4))
    ssn_hash: Mapped[str | None] = mapped_column(String(64))
    email: Mapped[str | None] = mapped_column(String(254))
    phone: Mapped[str | None] = mapped_column(String(30))
    mailing_address: Mapped[dict | None] = mapped_column(JSON)
    physical_address: Mapped[dict | None] = mapped_column(JSON)
    hire_date: Mapped[date | None] = mapped_column(Date)
    employment_status: Mapped[str | None] = mapped_column(String(20))  # active | terminated | retired | leave
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)     # a disabled child may stay past 26
    other_coverage: Mapped[str | None] = mapped_column(String(120))   # a dependent not electing: their other plan
    also_dependent_elsewhere: Mapped[bool] = mapped_column(Boolean, default=False)  # flagged, not refused
    status: Mapped[str] = mapped_column(String(12))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))

    subscriber: Mapped["Member | None"] = relationship(remote_side="Member.id", back_populates="dependents")
    dependents: Mapped[list["Member"]] = relationship(back_populates="subscriber", order_by="Member.id")
    coverage: Mapped[list["CoverageSpan"]] = relationship(back_populates="member", order_by="CoverageSpan.effective_from")

    __table_args__ = (
        # Search (issue 3: served by indexes on a roster of 100,000): each key within a group.
        Index("ix_members_group_last_name", "group_id", "last_name_key", "first_name_key"),
        Index("ix_members_group_dob", "group_id", "date_of_birth"),
        Index("ix_members_group_ssn_last4", "group_id", "ssn_last4"),
        Index("ix_members_group_status", "group_id", "status"),
        Index("ix_members_subgroup", "subgroup_id", "last_name_key"),
        Index("ix_members_subscriber", "subscriber_id"),
        # One subscriber per SSN per group (a rehire is re-enrolled on the same row, reason 41).
        Index("uq_members_subscriber_ssn", "group_id", "ssn_hash", unique=True,
              postgresql_where=text("subscriber_id IS NULL AND ssn_hash IS NOT NULL"),
              sqlite_where=text("subscriber_id IS NULL AND ssn_hash IS NOT NULL")),
        Index("ix_members_ssn_hash", "ssn_hash"),
    )


class CoverageSpan(Base):
    """A member's coverage in one plan over a period; the tier comes from who in the family is covered."""
    __tablename__ = "coverage_spans"

    id: Mapped[int] = mapped_column(primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"), index=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("plans.id"))
    tier: Mapped[str] = mapped_column(String(3))               # X12 HD05: EMP | ESP | ECH | FAM
    effective_from: Mapped[date] = mapped_column(Date)
    effective_through: Mapped[date | None] = mapped_column(Date)  # NULL: open
    status: Mapped[str] = mapped_column(String(12))            # pending | active | terminated | cancelled
    reason: Mapped[str] = mapped_column(String(3))             # X12 INS04 reason that started it
    transaction_id: Mapped[int | None] = mapped_column(ForeignKey("enrollment_transactions.id"))
    continuation: Mapped[str | None] = mapped_column(String(5))  # cobra | state: continuation coverage, else NULL

    member: Mapped[Member] = relationship(back_populates="coverage")
    plan: Mapped[Plan] = relationship()


class EnrollmentTransaction(Base):
    """Every roster change: a confirmation number, its request, before/after, and its state
    (pending -> completed | rejected | cancelled; DOMAIN.md)."""
    __tablename__ = "enrollment_transactions"

    id: Mapped[int] = mapped_column(primary_key=True)
    confirmation_number: Mapped[str] = mapped_column(String(20), unique=True)
    group_id: Mapped[int] = mapped_column(ForeignKey("groups.id"))
    subgroup_id: Mapped[int | None] = mapped_column(ForeignKey("subgroups.id"))
    subscriber_id: Mapped[int | None] = mapped_column(ForeignKey("members.id"))  # the family it concerns
    member_id: Mapped[int | None] = mapped_column(ForeignKey("members.id"))      # the member, when one
    type: Mapped[str] = mapped_column(String(40))              # new_enrollment, group_contact_update, ...
    maintenance_type: Mapped[str | None] = mapped_column(String(3))  # X12 INS03: 021 addition, 001 change, ...
    reason: Mapped[str | None] = mapped_column(String(3))            # X12 INS04
    status: Mapped[str] = mapped_column(String(12))
    effective_date: Mapped[date] = mapped_column(Date)
    # The day the daily job completes it: the effective date for a start, the day after the last covered
    # day for a termination (whose effective_date is that last day, as 834 reports it).
    completes_on: Mapped[date | None] = mapped_column(Date)
    requested_by: Mapped[str | None] = mapped_column(String(64))
    requested_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    hold_reason: Mapped[str | None] = mapped_column(Text)      # why a pending one waits for carrier staff
    decided_by: Mapped[str | None] = mapped_column(String(64))
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    decision_reason: Mapped[str | None] = mapped_column(Text)
    request: Mapped[dict] = mapped_column(JSON)                # what was asked (no SSNs: last 4 only)
    before: Mapped[dict | None] = mapped_column(JSON)
    after: Mapped[dict | None] = mapped_column(JSON)

    __table_args__ = (
        Index("ix_transactions_group_requested", "group_id", "requested_at"),
        Index("ix_transactions_group_status", "group_id", "status"),
        Index("ix_transactions_due", "status", "completes_on"),
        Index("ix_transactions_subscriber", "subscriber_id"),
    )


class PcpAssignment(Base):
    """A member's primary care provider from a date (the latest one not ended is the current one)."""
    __tablename__ = "pcp_assignments"

    id: Mapped[int] = mapped_column(primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"), index=True)
    provider_id: Mapped[int] = mapped_column(ForeignKey("providers.id"))
    plan_id: Mapped[int] = mapped_column(ForeignKey("plans.id"))
    effective_from: Mapped[date] = mapped_column(Date)
    effective_through: Mapped[date | None] = mapped_column(Date)
    transaction_id: Mapped[int | None] = mapped_column(ForeignKey("enrollment_transactions.id"))
    assigned_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))

    provider: Mapped[Provider] = relationship()
    plan: Mapped[Plan] = relationship()


class ContinuationElection(Base):
    """A COBRA (or state continuation) election: the qualifying event, the dates of its window, who elected,
    and how long the coverage lasts. `holder_id` is the member whose contract it is (the subscriber, or a
    dependent electing alone)."""
    __tablename__ = "continuation_elections"

    id: Mapped[int] = mapped_column(primary_key=True)
    group_id: Mapped[int] = mapped_column(ForeignKey("groups.id"), index=True)
    subscriber_id: Mapped[int] = mapped_column(ForeignKey("members.id"), index=True)  # the family
    holder_id: Mapped[int] = mapped_column(ForeignKey("members.id"))
    kind: Mapped[str] = mapped_column(String(5))                 # cobra | state
    qualifying_event: Mapped[str] = mapped_column(String(1))     # X12 INS07: 1 termination of employment, ...
    event_date: Mapped[date] = mapped_column(Date)
    notice_date: Mapped[date] = mapped_column(Date)
    election_date: Mapped[date] = mapped_column(Date)
    coverage_from: Mapped[date] = mapped_column(Date)           # the day after active coverage ended
    coverage_through: Mapped[date] = mapped_column(Date)
    months: Mapped[int] = mapped_column(Integer)                 # 18, 29, 36 or the state policy's
    disability_extended: Mapped[bool] = mapped_column(Boolean, default=False)
    member_ids: Mapped[list] = mapped_column(JSON)              # public member ids of those electing
    transaction_id: Mapped[int] = mapped_column(ForeignKey("enrollment_transactions.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class PlanYear(Base):
    """A group's plan year as carrier staff loaded it for renewal (offerings live in plan_offerings)."""
    __tablename__ = "plan_years"

    id: Mapped[int] = mapped_column(primary_key=True)
    group_id: Mapped[int] = mapped_column(ForeignKey("groups.id"))
    plan_year_start: Mapped[date] = mapped_column(Date)
    plan_year_end: Mapped[date] = mapped_column(Date)
    loaded_by: Mapped[str | None] = mapped_column(String(64))
    loaded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    renewed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))  # when the carry-over ran
    # Plans billing has a complete rate sheet for (its rates_loaded event); open enrollment needs every offered one.
    rated_plan_codes: Mapped[list | None] = mapped_column(JSON)

    __table_args__ = (UniqueConstraint("group_id", "plan_year_start", name="uq_plan_years"),)


class PlanMapping(Base):
    """Renewal: a plan of the ending plan year and the plan its members carry over into."""
    __tablename__ = "plan_mappings"

    id: Mapped[int] = mapped_column(primary_key=True)
    plan_year_id: Mapped[int] = mapped_column(ForeignKey("plan_years.id"), index=True)
    from_plan_id: Mapped[int] = mapped_column(ForeignKey("plans.id"))
    to_plan_id: Mapped[int] = mapped_column(ForeignKey("plans.id"))

    from_plan: Mapped[Plan] = relationship(foreign_keys=[from_plan_id])
    to_plan: Mapped[Plan] = relationship(foreign_keys=[to_plan_id])

    __table_args__ = (UniqueConstraint("plan_year_id", "from_plan_id", name="uq_plan_mappings"),)


class OpenEnrollmentElection(Base):
    """A subscriber's open-enrollment choice for a plan year: begin (new plan and dependents), keep, or
    decline (with a reason). A later choice in the window replaces the earlier one (`superseded`)."""
    __tablename__ = "open_enrollment_elections"

    id: Mapped[int] = mapped_column(primary_key=True)
    group_id: Mapped[int] = mapped_column(ForeignKey("groups.id"))
    subscriber_id: Mapped[int] = mapped_column(ForeignKey("members.id"), index=True)
    plan_year_start: Mapped[date] = mapped_column(Date)
    choice: Mapped[str] = mapped_column(String(10))              # begin | keep | decline
    plan_id: Mapped[int | None] = mapped_column(ForeignKey("plans.id"))
    member_ids: Mapped[list | None] = mapped_column(JSON)       # begin: the members covered
    decline_reason: Mapped[str | None] = mapped_column(String(40))
    alternate_plan: Mapped[str | None] = mapped_column(String(120))
    superseded: Mapped[bool] = mapped_column(Boolean, default=False)
    transaction_id: Mapped[int] = mapped_column(ForeignKey("enrollment_transactions.id"))
    elected_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))

    __table_args__ = (Index("ix_oe_elections_group_year", "group_id", "plan_year_start"),)
