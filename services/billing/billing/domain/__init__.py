"""Billing rules as pure functions: no nameko, no database."""
