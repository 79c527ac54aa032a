"""The database cache table: rate-limit counters shared by every worker process.

Created here so that `migrate` is all a deployment needs; a deployment with REDIS_URL uses Redis
and this does nothing.
"""

from django.core.management import call_command
from django.db import migrations


def create_cache_table(apps, schema_editor) -> None:
    call_command("createcachetable", database=schema_editor.connection.alias, verbosity=0)


class Migration(migrations.Migration):
    dependencies = [("accounts", "0003_iot_cookie_outbox")]

    operations = [migrations.RunPython(create_cache_table, migrations.RunPython.noop)]
