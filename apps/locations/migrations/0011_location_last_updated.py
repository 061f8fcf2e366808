"""Location.last_updated (OCPI): stored and indexed, so the partners' pulls page by keyset
instead of computing a maximum over three tables for every location of every page. Filled
from the rows as they are: the latest `updated_at` of the location, its EVSEs and their
connectors (what the pull computed until now)."""

import django.utils.timezone
from django.db import migrations, models
from django.db.models import Max, OuterRef, Subquery
from django.db.models.functions import Coalesce, Greatest


def fill(apps, schema_editor):
    Location = apps.get_model("locations", "Location")
    Evse = apps.get_model("locations", "Evse")
    Connector = apps.get_model("locations", "Connector")
    evse_lu = (
        Evse.objects.filter(location=OuterRef("pk"))
        .order_by()
        .values("location")
        .annotate(m=Max("updated_at"))
        .values("m")
    )
    connector_lu = (
        Connector.objects.filter(evse__location=OuterRef("pk"))
        .order_by()
        .values("evse__location")
        .annotate(m=Max("updated_at"))
        .values("m")
    )
    Location.objects.update(
        last_updated=Greatest(
            "updated_at",
            Coalesce(Subquery(evse_lu), "updated_at"),
            Coalesce(Subquery(connector_lu), "updated_at"),
        )
    )


class Migration(migrations.Migration):
    dependencies = [
        ("locations", "0010_chargestation_hcc"),
        ("parties", "0005_own_identities_and_partners"),
    ]

    operations = [
        migrations.AddField(
            model_name="location",
            name="last_updated",
            field=models.DateTimeField(default=django.utils.timezone.now),
        ),
        migrations.RunPython(fill, migrations.RunPython.noop, elidable=True),
        migrations.AddIndex(
            model_name="location",
            index=models.Index(
                condition=models.Q(("publish", True)),
                fields=["tenant", "last_updated", "id"],
                name="location_ocpi_page",
            ),
        ),
    ]
