from django.db import migrations, models

# Same columns as examples/quickstart.sql (whichever runs first creates the table).
EVENTS = """CREATE TABLE IF NOT EXISTS events (
  user_id bigint NOT NULL, payload text, created_at timestamptz NOT NULL DEFAULT now(),
  id bigserial PRIMARY KEY)"""


class Migration(migrations.Migration):
    # Its tables live on different aliases (django_migrations on default, auth_account on analytics,
    # events on both shards), and a transaction runs on one alias: no wrapping transaction.
    atomic = False
    initial = True
    dependencies = []

    operations = [
        migrations.CreateModel(
            name="Account",
            fields=[("id", models.BigAutoField(primary_key=True, serialize=False)), ("name", models.TextField())],
            options={"db_table": "auth_account"},
        ),
        migrations.CreateModel(
            name="Note",
            fields=[("id", models.BigAutoField(primary_key=True, serialize=False)), ("body", models.TextField())],
        ),
        # A sharded table is created on each shard; the hint names the alias.
        migrations.RunSQL(
            ["/* pgroute: alias=shard_0 */ " + EVENTS, "/* pgroute: alias=shard_1 */ " + EVENTS],
            reverse_sql=["/* pgroute: alias=shard_0 */ DROP TABLE events", "/* pgroute: alias=shard_1 */ DROP TABLE events"],
            state_operations=[
                migrations.CreateModel(
                    name="Event",
                    fields=[
                        ("id", models.BigAutoField(primary_key=True, serialize=False)),
                        ("user_id", models.BigIntegerField()),
                        ("payload", models.TextField()),
                    ],
                    options={"db_table": "events", "managed": False},
                ),
            ],
        ),
    ]
