from sqlalchemy import text
from sqlalchemy.orm import Session

from roster.models import Base
from roster.search import refresh_statistics
from servicekit.db import make_engine


def test_a_bulk_load_leaves_sqlite_with_planner_statistics(tmp_path):
    engine = make_engine("sqlite:///%s" % (tmp_path / "roster.db"))
    Base.metadata.create_all(engine)
    stats_table = text("SELECT count(*) FROM sqlite_master WHERE name = 'sqlite_stat1'")
    with Session(engine) as session:
        assert session.scalar(stats_table) == 0
        refresh_statistics(session)
        session.commit()
        assert session.scalar(stats_table) == 1
    engine.dispose()
