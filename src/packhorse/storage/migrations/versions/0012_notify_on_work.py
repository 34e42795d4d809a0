"""PostgreSQL tells listening processes when work is stored (``NOTIFY packhorse``).

Triggers in the database send the notification, so every writer (an API process, a worker, a
rules engine, a bundle import) sends it without a statement of its own, and PostgreSQL
delivers it when the writing transaction commits (never for one rolled back). The payload says
what to wake (see ``storage/notifications.py``): ``executions`` (a row of the execution log that
makes work for the scheduler or a worker), ``trigger_instances``, ``workflow_events`` and ``log``
(any change the event stream reports). Nothing on SQLite: there the processes of one machine
poll the file, and each process wakes its own loops when it writes.

Revision ID: 0012
Revises: 0011
"""

from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

_TRIGGERS = {
    "packhorse_notify_executions": (
        "execution_log",
        "FOR EACH ROW WHEN (NEW.status IN ('requested', 'delayed', 'scheduled'))",
        "executions",
    ),
    "packhorse_notify_log": ("execution_log", "FOR EACH STATEMENT", "log"),
    "packhorse_notify_output": ("execution_output", "FOR EACH STATEMENT", "log"),
    "packhorse_notify_instances": ("trigger_instances", "FOR EACH STATEMENT", "trigger_instances"),
    "packhorse_notify_workflows": ("workflow_events", "FOR EACH STATEMENT", "workflow_events"),
}


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(
        "CREATE FUNCTION packhorse_notify() RETURNS trigger LANGUAGE plpgsql AS"
        " $$ BEGIN PERFORM pg_notify('packhorse', TG_ARGV[0]); RETURN NULL; END $$"
    )
    for name, (table, when, payload) in _TRIGGERS.items():
        op.execute(
            f"CREATE TRIGGER {name} AFTER INSERT ON {table} {when}"
            f" EXECUTE FUNCTION packhorse_notify('{payload}')"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for name, (table, _when, _payload) in _TRIGGERS.items():
        op.execute(f"DROP TRIGGER {name} ON {table}")
    op.execute("DROP FUNCTION packhorse_notify()")
