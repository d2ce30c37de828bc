"""Roster rules, free of nameko and of the database: groups.py (policies, plan years, offerings),
enrollment.py (effective dates, tiers, ages, who may be enrolled), census.py (the census file)."""
