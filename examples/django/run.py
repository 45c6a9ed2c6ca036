#!/usr/bin/python3
"""Django through pgroute: runs the migrations, writes and reads a few rows with the ORM, and prints
where each row landed (current_database() of the server that answered: one database per alias in the
quickstart). Run it while tools/quickstart is up:  /usr/bin/python3 examples/django/run.py
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "settings")

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402

from shop.models import Account, Event, Note  # noqa: E402


def landed(table, column, value):
    # Routed like any statement naming that table (and, for events, its key).
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT current_database() FROM {table} WHERE {column} = %s", [value])
        return cursor.fetchone()[0]


call_command("migrate", verbosity=0)

account = Account.objects.create(name="ann")
print(f"auth_account id={account.id}: {landed('auth_account', 'id', account.id)}")
note = Note.objects.create(body="hello")
print(f"shop_note id={note.id}: {landed('shop_note', 'id', note.id)}")
for user_id in (1, 2, 3, 42):
    event = Event.objects.create(user_id=user_id, payload="django")
    print(f"events user_id={user_id} id={event.id}: {landed('events', 'user_id', user_id)}")

# Reads by key go to the one shard that holds the key.
found = sum(Event.objects.filter(user_id=user_id, payload="django").count() for user_id in (1, 2, 3, 42))
print(f"read back by user_id: {found} rows")
assert Account.objects.get(pk=account.pk).name == "ann"
