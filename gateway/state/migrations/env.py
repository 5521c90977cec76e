"""Alembic environment: migrations run on the connection `StateDB.migrate` hands over."""

from alembic import context

from gateway.state.schema import metadata

connection = context.config.attributes.get("connection")
if connection is None:  # pragma: no cover - only StateDB.migrate runs these
    raise RuntimeError("run migrations with `workstream-admin state migrate`")
context.configure(connection=connection, target_metadata=metadata)
with context.begin_transaction():
    context.run_migrations()
