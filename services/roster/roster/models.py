"""The roster service's own tables (its database also holds the kit's tables: servicekit.tables)."""
from sqlalchemy.orm import DeclarativeBase


class Base(DeclarativeBase):
    pass
