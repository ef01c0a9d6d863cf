"""Alembic migrations of the record store (run by :class:`hatangso.geo.store.SqlStore`)."""
