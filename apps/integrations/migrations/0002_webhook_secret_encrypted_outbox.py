# Webhook signing secrets encrypted at rest (ADR 0010); indexes of the webhook outbox.

from django.db import migrations, models


def encrypt_secrets(apps, schema_editor):
    from apps.common.crypto import encrypt

    Subscription = apps.get_model("integrations", "WebhookSubscription")
    for sub in Subscription.objects.all().only("pk", "secret"):
        Subscription.objects.filter(pk=sub.pk).update(secret_encrypted=encrypt(sub.secret))


def decrypt_secrets(apps, schema_editor):
    from apps.common.crypto import decrypt

    Subscription = apps.get_model("integrations", "WebhookSubscription")
    for sub in Subscription.objects.all().only("pk", "secret_encrypted"):
        Subscription.objects.filter(pk=sub.pk).update(secret=decrypt(sub.secret_encrypted))


class Migration(migrations.Migration):

    dependencies = [
        ("integrations", "0001_initial"),
    ]

    operations = [
        migrations.AddField(
            model_name="webhooksubscription",
            name="secret_encrypted",
            field=models.TextField(default=""),
            preserve_default=False,
        ),
        migrations.AlterField(
            model_name="webhooksubscription",
            name="secret",
            field=models.CharField(max_length=64, default=""),
        ),
        migrations.RunPython(encrypt_secrets, decrypt_secrets),
        migrations.RemoveField(model_name="webhooksubscription", name="secret"),
        migrations.AddIndex(
            model_name="webhookdelivery",
            index=models.Index(fields=["event_id"], name="webhook_delivery_event"),
        ),
        migrations.AddIndex(
            model_name="webhookdelivery",
            index=models.Index(
                condition=models.Q(("status", "pending")),
                fields=["next_attempt_at"],
                name="webhook_delivery_due",
            ),
        ),
    ]
