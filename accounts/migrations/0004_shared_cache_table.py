"""The database cache table: sign-in rate limits shared by every worker process.

Created here so that `migrate` is all a deployment needs (devices makes the same table for
claim guesses; `createcachetable` skips a table that exists). With REDIS_URL it does nothing.
"""

from django.core.management import call_command
from django.db import migrations


def create_cache_table(apps, schema_editor) -> None:
    call_command("createcachetable", database=schema_editor.connection.alias, verbosity=0)


class Migration(migrations.Migration):
    dependencies = [("accounts", "0003_iot_cookie_outbox")]

    operations = [migrations.RunPython(create_cache_table, migrations.RunPython.noop)]
