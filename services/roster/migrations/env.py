import os

from servicekit.migrations import run_migrations
from roster.models import Base

run_migrations(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), Base.metadata)
