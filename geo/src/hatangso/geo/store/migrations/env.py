"""Alembic's entry point for the store's migrations.

:class:`hatangso.geo.store.SqlStore` runs them on open, on its own connection (passed in
``config.attributes["connection"]``), inside the transaction that holds the write lock.
"""

from __future__ import annotations

from alembic import context

from hatangso.geo.store._schema import METADATA


def _run() -> None:
    connection = context.config.attributes["connection"]
    context.configure(connection=connection, target_metadata=METADATA)
    with context.begin_transaction():
        context.run_migrations()


# Alembic gives the module its context before running it; anything else (pytest collecting
# doctests, an import walk) only imports it.
if hasattr(context, "config"):
    _run()
