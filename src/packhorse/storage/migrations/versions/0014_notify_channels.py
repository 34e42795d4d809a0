"""One ``NOTIFY`` channel per kind of work (``packhorse_executions``, ``packhorse_log``...)
instead of one channel with the kind as payload.

PostgreSQL delivers a notification to every session listening on its channel: with a single
channel every process heard every change of the site, a status change or output chunk
(``log``) most of all, even a worker that has no use for it. Each process now listens only to
the kinds its roles need (``bootstrap.wake_ups``). The triggers of migrations 0012 and 0013
stay; only their function changes. Nothing on SQLite.

Revision ID: 0014
Revises: 0013
"""

from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def _function(channel: str) -> str:
    return (
        "CREATE OR REPLACE FUNCTION packhorse_notify() RETURNS trigger LANGUAGE plpgsql AS"
        f" $$ BEGIN PERFORM pg_notify({channel}); RETURN NULL; END $$"
    )


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(_function("'packhorse_' || TG_ARGV[0], ''"))


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(_function("'packhorse', TG_ARGV[0]"))
