from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("tokens", "0002_access_control_groups"),
    ]

    operations = [
        migrations.AddField(
            model_name="token",
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
