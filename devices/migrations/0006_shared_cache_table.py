"""The shared cache's table (claim-code guesses are counted there when no Redis is set).

Made by migrate, so every way the platform is set up (make run, tests, Elastic Beanstalk's
leader-only migrate) has it; `createcachetable` does nothing for a cache that is not a table.
"""

from django.core.management import call_command
from django.db import migrations


def create_cache_table(apps, schema_editor):
    call_command("createcachetable", database=schema_editor.connection.alias, verbosity=0)


class Migration(migrations.Migration):
    dependencies = [("devices", "0005_provisioning_and_serials")]

    operations = [migrations.RunPython(create_cache_table, migrations.RunPython.noop)]
