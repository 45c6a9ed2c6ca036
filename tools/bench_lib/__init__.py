"""Helpers of tools/bench: PostgreSQL, PgBouncer and pgroute side by side under pgbench."""
