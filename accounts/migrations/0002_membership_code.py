"""Give every membership a public UUID `code`.

A unique column with a callable default needs three steps on a table that already has rows:
add it nullable, fill each row with its own UUID, then make it unique and required.
"""

import uuid

from django.db import migrations, models


def fill_codes(apps, schema_editor):
    Membership = apps.get_model("accounts", "Membership")
    for membership in Membership.objects.filter(code__isnull=True).only("id"):
        membership.code = uuid.uuid4()
        membership.save(update_fields=["code"])


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0001_initial"),
    ]

    operations = [
        migrations.AddField(
            model_name="membership",
            name="code",
            field=models.UUIDField(editable=False, null=True),
        ),
        migrations.RunPython(fill_codes, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="membership",
            name="code",
            field=models.UUIDField(default=uuid.uuid4, editable=False, unique=True),
        ),
    ]
