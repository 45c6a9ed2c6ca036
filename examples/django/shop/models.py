from django.db import models


class Account(models.Model):
    """Table auth_account: the model router places auth_* tables on alias analytics."""

    name = models.TextField()

    class Meta:
        db_table = "auth_account"


class Note(models.Model):
    """Table shop_note: no router claims it, so it stays on the client's own alias (default)."""

    body = models.TextField()


class Event(models.Model):
    """Table events: sharded by user_id over shard_0 and shard_1 (hash, as PARTITION BY HASH)."""

    id = models.BigAutoField(primary_key=True)
    user_id = models.BigIntegerField()
    payload = models.TextField()

    class Meta:
        db_table = "events"
        managed = False  # created on every shard by migration 0001's RunSQL (alias hints)
