"""Sign-in throttling per (user name, client address) with growing delays (issue 15).

The old rows counted per user name only; they are dropped (counters of failed attempts, at
most PORTAL_LOCKOUT_SECONDS old: nothing to keep)."""

from django.db import migrations, models


def drop_name_only_rows(apps, schema_editor):
    apps.get_model("parties", "SignInLock").objects.all().delete()


class Migration(migrations.Migration):

    dependencies = [
        ('parties', '0002_audit_signin_lock'),
    ]

    operations = [
        migrations.RunPython(drop_name_only_rows, migrations.RunPython.noop),
        migrations.RemoveField(model_name='signinlock', name='first_failure_at'),
        migrations.RemoveField(model_name='signinlock', name='locked_until'),
        migrations.AddField(
            model_name='signinlock',
            name='client',
            field=models.CharField(default='', max_length=64),
        ),
        migrations.AddField(
            model_name='signinlock',
            name='last_failure_at',
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name='signinlock',
            name='next_attempt_at',
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AlterField(
            model_name='signinlock',
            name='username',
            field=models.CharField(max_length=254),
        ),
        migrations.AddConstraint(
            model_name='signinlock',
            constraint=models.UniqueConstraint(fields=('username', 'client'), name='sign_in_lock_unique'),
        ),
    ]
