"""The messaging service's own tables (its database also holds the kit's tables: servicekit.tables)."""
from datetime import datetime

from sqlalchemy import DateTime, Index, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class IssueReport(Base):
    """A "Report an Issue" form, sent before sign-in (or, later, after it)."""
    __tablename__ = "issue_reports"

    id: Mapped[int] = mapped_column(primary_key=True)
    reference: Mapped[str] = mapped_column(String(24), unique=True)
    channel: Mapped[str] = mapped_column(String(20))  # pre_sign_in | signed_in
    category: Mapped[str] = mapped_column(String(30))
    name: Mapped[str] = mapped_column(String(100))
    email: Mapped[str] = mapped_column(String(254))
    phone: Mapped[str | None] = mapped_column(String(30))
    group_number: Mapped[str | None] = mapped_column(String(20))
    description: Mapped[str] = mapped_column(Text)
    # A keyed hash of the sender's address: enough to throttle floods, not a record of where people are.
    sender_hash: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(20), default="received")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    confirmation_sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (Index("ix_issue_reports_sender_created", "sender_hash", "created_at"),)
