from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("locations", "0009_command_kind_list_version_data_transfer_reports"),
    ]

    operations = [
        migrations.AddField(
            model_name="chargestation",
            name="hcc",
            field=models.CharField(
                blank=True,
                choices=[("HCC_E", "Hcc e"), ("HCC_V", "Hcc v")],
                db_default="",
                default="",
                max_length=8,
            ),
        ),
    ]
