"""The billing service's own tables (its database also holds the kit's tables: servicekit.tables).

Money is Numeric(12, 2) and Decimal everywhere. Billing never reads roster's tables: groups, subgroups,
offerings and each family's coverage arrive as roster's events and are kept here as projections.

The ledger is the truth (DOMAIN.md "Money"): every charge, adjustment, payment, return and refund of a billing
account is a LedgerEntry (debits positive, credits negative); the balance is their sum; a statement is a frozen
cut of the ledger (the entries it took up point at it).
"""
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import JSON, Date, DateTime, ForeignKey, Index, Integer, Numeric, String, Text, \
    UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

MONEY = Numeric(12, 2)


class Base(DeclarativeBase):
    pass


# --- groups, policy, rates -------------------------------------------------------------------------------

class BillingGroup(Base):
    """A group as billing knows it (from roster's group events) and its billing policy (billing's own)."""
    __tablename__ = "billing_groups"

    id: Mapped[int] = mapped_column(primary_key=True)
    group_number: Mapped[str] = mapped_column(String(20), unique=True)
    legal_name: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(20), default="active")
    renewal_date: Mapped[date | None] = mapped_column(Date)
    group_sequence: Mapped[int] = mapped_column(Integer, default=0)    # newest group:<n> event applied
    # Billing policy (DOMAIN.md), set by carrier staff:
    rating_method: Mapped[str] = mapped_column(String(12), default="composite")   # age_rated | composite
    proration: Mapped[str] = mapped_column(String(10), default="none")            # none | daily | fifteenth
    grace_days: Mapped[int] = mapped_column(Integer, default=31)
    cobra_billing: Mapped[str] = mapped_column(String(14), default="group_billed")  # group_billed | direct_billed
    retro_window_days: Mapped[int] = mapped_column(Integer, default=60)
    updated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class PlanYearOffering(Base):
    """The plans a subgroup is offered for a plan year (roster's group_plans_set): what rates are needed for."""
    __tablename__ = "plan_year_offerings"

    id: Mapped[int] = mapped_column(primary_key=True)
    group_id: Mapped[int] = mapped_column(ForeignKey("billing_groups.id"))
    subgroup_number: Mapped[str] = mapped_column(String(20))
    plan_year_start: Mapped[date] = mapped_column(Date)
    plan_year_end: Mapped[date] = mapped_column(Date)
    plans: Mapped[list] = mapped_column(JSON)                 # [{plan_code, tiers}]

    __table_args__ = (UniqueConstraint("group_id", "subgroup_number", "plan_year_start", name="uq_offerings"),)


class Rate(Base):
    """A monthly premium of a group's plan for a plan year: per tier (composite: EMP, ESP, ECH, FAM) or per
    age band (age_rated: "0-14", "15", ..., "63", "64+", the ACA bands, age at the plan year's start)."""
    __tablename__ = "rates"

    id: Mapped[int] = mapped_column(primary_key=True)
    group_id: Mapped[int] = mapped_column(ForeignKey("billing_groups.id"))
    plan_year_start: Mapped[date] = mapped_column(Date)
    plan_code: Mapped[str] = mapped_column(String(20))
    rate_key: Mapped[str] = mapped_column(String(8))           # a tier or an age band
    amount: Mapped[Decimal] = mapped_column(MONEY)

    __table_args__ = (UniqueConstraint("group_id", "plan_year_start", "plan_code", "rate_key", name="uq_rates"),)


# --- accounts and the coverage projection ------------------------------------------------------------------

class BillingAccount(Base):
    """One per subgroup (opened on roster's subgroup_created): the unit a bill is made for."""
    __tablename__ = "billing_accounts"

    id: Mapped[int] = mapped_column(primary_key=True)
    account_number: Mapped[str] = mapped_column(String(24), unique=True)   # <group>-<subgroup>
    group_id: Mapped[int] = mapped_column(ForeignKey("billing_groups.id"), index=True)
    subgroup_number: Mapped[str] = mapped_column(String(20))
    name: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(20), default="active")
    delinquency_stage: Mapped[str] = mapped_column(String(24), default="current")
    # current | past_due | in_grace | terminated_nonpayment
    stage_changed_on: Mapped[date | None] = mapped_column(Date)
    sequence: Mapped[int] = mapped_column(Integer, default=0)   # this account's events (aggregate account:<n>)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))

    group: Mapped[BillingGroup] = relationship()

    __table_args__ = (UniqueConstraint("group_id", "subgroup_number", name="uq_accounts_subgroup"),)


class BillableFamily(Base):
    """A family's coverage as roster last published it (the newest `sequence` of family:<subscriber> wins):
    members with relationship, birth date and coverage spans. Rebuilt exactly by replaying roster's outbox."""
    __tablename__ = "billable_families"

    id: Mapped[int] = mapped_column(primary_key=True)
    subscriber_member_id: Mapped[str] = mapped_column(String(12), unique=True)
    group_id: Mapped[int] = mapped_column(ForeignKey("billing_groups.id"), index=True)
    subgroup_number: Mapped[str] = mapped_column(String(20))
    sequence: Mapped[int] = mapped_column(Integer)
    members: Mapped[list] = mapped_column(JSON)   # [{member_id, relationship_code, date_of_birth, status,
    #                                                coverage: [{plan_code, tier, effective_from, effective_through,
    #                                                            status, continuation}]}]  (dates as text)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))

    __table_args__ = (Index("ix_billable_families_group_subgroup", "group_id", "subgroup_number"),)


# --- the ledger and statements -----------------------------------------------------------------------------

class LedgerEntry(Base):
    """One movement on an account: debits (charges, returns, refunds paid out) positive, credits (payments,
    credit adjustments) negative. A premium charge or adjustment names its coverage month and `line_key`
    (the member, or the subscriber for composite rating, and the plan), so the expected premium of any line and
    month can be compared with what was billed: the difference is the next adjustment."""
    __tablename__ = "ledger_entries"

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("billing_accounts.id"))
    kind: Mapped[str] = mapped_column(String(12))   # charge | adjustment | payment | return | refund | write_off
    amount: Mapped[Decimal] = mapped_column(MONEY)
    coverage_month: Mapped[date | None] = mapped_column(Date)      # the 1st of the month it pays for
    line_key: Mapped[str | None] = mapped_column(String(80))       # e.g. M123456789:MED-PPO-1000
    subscriber_member_id: Mapped[str | None] = mapped_column(String(12))
    member_id: Mapped[str | None] = mapped_column(String(12))
    plan_code: Mapped[str | None] = mapped_column(String(20))
    rate_key: Mapped[str | None] = mapped_column(String(8))
    description: Mapped[str] = mapped_column(String(200))
    payment_id: Mapped[int | None] = mapped_column(ForeignKey("payments.id"))
    statement_id: Mapped[int | None] = mapped_column(ForeignKey("statements.id"))   # the cut that took it up
    posted_on: Mapped[date] = mapped_column(Date)                  # business date
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        Index("ix_ledger_account_statement", "account_id", "statement_id"),
        Index("ix_ledger_account_month_line", "account_id", "coverage_month", "line_key"),
        Index("ix_ledger_payment", "payment_id"),
    )


class Statement(Base):
    """An invoice: the cut of one account's ledger for a coverage month (DOMAIN.md: cut on the 15th of the
    month before, due on the 1st). `lines` hold the charges and adjustments it took up; a rebill supersedes
    it with a new statement that links back (`supersedes_id`) and takes up the same entries."""
    __tablename__ = "statements"

    id: Mapped[int] = mapped_column(primary_key=True)
    statement_number: Mapped[str] = mapped_column(String(24), unique=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("billing_accounts.id"))
    group_id: Mapped[int] = mapped_column(ForeignKey("billing_groups.id"))
    coverage_month: Mapped[date] = mapped_column(Date)
    cut_date: Mapped[date] = mapped_column(Date)
    due_date: Mapped[date] = mapped_column(Date)
    balance_forward: Mapped[Decimal] = mapped_column(MONEY)   # the balance at the previous cut
    payments: Mapped[Decimal] = mapped_column(MONEY)          # payments, returns and refunds since (signed)
    charges: Mapped[Decimal] = mapped_column(MONEY)           # this month's premium
    adjustments: Mapped[Decimal] = mapped_column(MONEY)       # retro changes since the last cut (signed)
    amount_due: Mapped[Decimal] = mapped_column(MONEY)        # the ledger balance at this cut
    status: Mapped[str] = mapped_column(String(12), default="issued")   # issued | superseded
    supersedes_id: Mapped[int | None] = mapped_column(ForeignKey("statements.id"))
    lines: Mapped[list] = mapped_column(JSON)   # [{kind, coverage_month, member_id, subscriber_member_id,
    #                                             plan_code, rate_key, description, amount}] (amounts as text)
    issued_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))

    account: Mapped[BillingAccount] = relationship()

    __table_args__ = (
        Index("ix_statements_account_month", "account_id", "coverage_month"),
        Index("ix_statements_group_cut", "group_id", "cut_date"),
    )


class ConsolidatedStatement(Base):
    """A group's consolidated invoice for a coverage month: the sum of its subgroup statements."""
    __tablename__ = "consolidated_statements"

    id: Mapped[int] = mapped_column(primary_key=True)
    statement_number: Mapped[str] = mapped_column(String(24), unique=True)
    group_id: Mapped[int] = mapped_column(ForeignKey("billing_groups.id"))
    coverage_month: Mapped[date] = mapped_column(Date)
    due_date: Mapped[date] = mapped_column(Date)
    amount_due: Mapped[Decimal] = mapped_column(MONEY)
    statement_ids: Mapped[list] = mapped_column(JSON)
    issued_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))

    __table_args__ = (UniqueConstraint("group_id", "coverage_month", name="uq_consolidated_month"),)


# --- payments --------------------------------------------------------------------------------------------

class PaymentMethod(Base):
    """A group's bank account: the account number encrypted (servicekit.crypto), only its last 4 shown."""
    __tablename__ = "payment_methods"

    id: Mapped[int] = mapped_column(primary_key=True)
    group_id: Mapped[int] = mapped_column(ForeignKey("billing_groups.id"), index=True)
    nickname: Mapped[str | None] = mapped_column(String(60))
    holder_name: Mapped[str] = mapped_column(String(120))
    account_type: Mapped[str] = mapped_column(String(10))      # checking | savings
    routing_number: Mapped[str] = mapped_column(String(9))     # public (the bank), check digit verified
    account_ciphertext: Mapped[str] = mapped_column(Text)
    account_last4: Mapped[str] = mapped_column(String(4))
    account_hash: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(10), default="active")   # active | removed
    created_by: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class Payment(Base):
    """Money received for a group: ACH (from a stored method; settles after 2 business days unless returned),
    check or lockbox (posted by carrier staff), or an auto-pay debit; allocated across accounts/statements."""
    __tablename__ = "payments"

    id: Mapped[int] = mapped_column(primary_key=True)
    payment_number: Mapped[str] = mapped_column(String(24), unique=True)
    group_id: Mapped[int] = mapped_column(ForeignKey("billing_groups.id"), index=True)
    method_id: Mapped[int | None] = mapped_column(ForeignKey("payment_methods.id"))
    source: Mapped[str] = mapped_column(String(10))            # ach | autopay | check | lockbox
    amount: Mapped[Decimal] = mapped_column(MONEY)
    status: Mapped[str] = mapped_column(String(10))            # pending | settled | returned
    received_on: Mapped[date] = mapped_column(Date)
    settles_on: Mapped[date | None] = mapped_column(Date)
    trace_number: Mapped[str | None] = mapped_column(String(15), unique=True)  # NACHA entry trace
    reference: Mapped[str | None] = mapped_column(String(40))  # check number, lockbox batch
    return_code: Mapped[str | None] = mapped_column(String(3))  # R01, R02, ...
    returned_on: Mapped[date | None] = mapped_column(Date)
    requested_by: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))

    allocations: Mapped[list["PaymentAllocation"]] = relationship(back_populates="payment")


class PaymentAllocation(Base):
    __tablename__ = "payment_allocations"

    id: Mapped[int] = mapped_column(primary_key=True)
    payment_id: Mapped[int] = mapped_column(ForeignKey("payments.id"), index=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("billing_accounts.id"))
    statement_id: Mapped[int | None] = mapped_column(ForeignKey("statements.id"))
    amount: Mapped[Decimal] = mapped_column(MONEY)

    payment: Mapped[Payment] = relationship(back_populates="allocations")


class AutoPay(Base):
    """An account's auto pay: the method, the day to debit, and the authorisation kept (who, when, terms)."""
    __tablename__ = "autopay"

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("billing_accounts.id"), unique=True)
    method_id: Mapped[int] = mapped_column(ForeignKey("payment_methods.id"))
    days_before_due: Mapped[int] = mapped_column(Integer)      # 0..10: debit on the due date or before
    status: Mapped[str] = mapped_column(String(10), default="active")   # active | cancelled
    authorized_by: Mapped[str] = mapped_column(String(64))
    authorized_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    terms_version: Mapped[str] = mapped_column(String(20))
    cancelled_by: Mapped[str | None] = mapped_column(String(64))
    cancelled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class AchFile(Base):
    """A NACHA file written by an auto-pay run (one per business date), under var/."""
    __tablename__ = "ach_files"

    id: Mapped[int] = mapped_column(primary_key=True)
    effective_date: Mapped[date] = mapped_column(Date, unique=True)
    path: Mapped[str] = mapped_column(String(300))
    entry_count: Mapped[int] = mapped_column(Integer)
    total_debits: Mapped[Decimal] = mapped_column(MONEY)
    entry_hash: Mapped[str] = mapped_column(String(10))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


# --- requests --------------------------------------------------------------------------------------------

class BillingRequest(Base):
    """A rebill request (of a statement) or a refund request (of a credit balance), tracked with its status:
    requested -> completed | denied."""
    __tablename__ = "billing_requests"

    id: Mapped[int] = mapped_column(primary_key=True)
    request_number: Mapped[str] = mapped_column(String(24), unique=True)
    kind: Mapped[str] = mapped_column(String(8))               # rebill | refund
    group_id: Mapped[int] = mapped_column(ForeignKey("billing_groups.id"), index=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("billing_accounts.id"))
    statement_id: Mapped[int | None] = mapped_column(ForeignKey("statements.id"))      # rebill: the one asked
    new_statement_id: Mapped[int | None] = mapped_column(ForeignKey("statements.id"))  # rebill: the new one
    amount: Mapped[Decimal | None] = mapped_column(MONEY)      # refund
    reason: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(10))            # requested | completed | denied
    requested_by: Mapped[str] = mapped_column(String(64))
    requested_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    decided_by: Mapped[str | None] = mapped_column(String(64))
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    decision_note: Mapped[str | None] = mapped_column(Text)
    detail: Mapped[dict | None] = mapped_column(JSON)
