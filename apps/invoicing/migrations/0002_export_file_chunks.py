"""Export files in chunks (ADR 0039): ExportFileChunk rows of at most EXPORT_FILE_CHUNK_BYTES.
The files stored before (the whole file in ExportFile.content) are moved into chunks here, in
SQL on PostgreSQL (no file passes through Python), then the column is dropped: one reader."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

from apps.common.migration_ops import AppendOnlyTrigger


def move_contents(apps, schema_editor):
    size = int(settings.EXPORT_FILE_CHUNK_BYTES)
    conn = schema_editor.connection
    with conn.cursor() as cur:
        if conn.vendor == "postgresql":
            cur.execute(
                "INSERT INTO invoicing_exportfilechunk "
                "(tenant_id, created_at, updated_at, batch_id, kind, seq, content) "
                "SELECT f.tenant_id, f.created_at, f.created_at, f.batch_id, f.kind, g.seq, "
                "substring(f.content FROM g.seq * %s + 1 FOR %s) "
                "FROM invoicing_exportfile f "
                "CROSS JOIN LATERAL generate_series(0, (length(f.content) - 1) / %s) AS g(seq) "
                "WHERE length(f.content) > 0",
                [size, size, size],
            )
            return
        cur.execute(
            "SELECT tenant_id, created_at, batch_id, kind, content FROM invoicing_exportfile"
        )
        for tenant_id, created, batch_id, kind, content in cur.fetchall():
            data = bytes(content or b"")
            for seq, at in enumerate(range(0, len(data), size)):
                cur.execute(
                    "INSERT INTO invoicing_exportfilechunk "
                    "(tenant_id, created_at, updated_at, batch_id, kind, seq, content) "
                    "VALUES (%s, %s, %s, %s, %s, %s, %s)",
                    [tenant_id, created, created, batch_id, kind, seq, data[at : at + size]],
                )


class Migration(migrations.Migration):

    dependencies = [
        ('invoicing', '0001_documents_and_finance_export'),
        ('parties', '0005_own_identities_and_partners'),
    ]

    operations = [
        migrations.CreateModel(
            name='ExportFileChunk',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('created_at', models.DateTimeField(auto_now_add=True)),
                ('updated_at', models.DateTimeField(auto_now=True)),
                ('kind', models.CharField(choices=[('JOURNAL_CSV', 'Journal csv'), ('JOURNAL_JSON', 'Journal json'), ('RECORDS_JSONL', 'Records jsonl')], max_length=16)),
                ('seq', models.PositiveIntegerField()),
                ('content', models.BinaryField()),
                ('batch', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='+', to='invoicing.exportbatch')),
                ('tenant', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='+', to='parties.operator')),
            ],
            options={
                'constraints': [models.UniqueConstraint(fields=('batch', 'kind', 'seq'), name='export_file_chunk_once')],
            },
        ),
        AppendOnlyTrigger("invoicing_exportfilechunk"),
        migrations.RunPython(move_contents, migrations.RunPython.noop),
        migrations.RemoveField(
            model_name='exportfile',
            name='content',
        ),
        migrations.AlterField(
            model_name='exportfile',
            name='size',
            field=models.PositiveBigIntegerField(),
        ),
    ]
