"""One token's contract versions never overlap: on PostgreSQL an exclusion constraint over
(token, [valid_from, valid_until)) (btree_gist for the equality on token_id). The services
check the same under a row lock on the token on every database (SQLite has no such
constraint); this is the database's guarantee behind them."""

from django.db import migrations

CONSTRAINT = "contract_token_validity_no_overlap"


def add_exclusion(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS btree_gist")
    schema_editor.execute(
        f"ALTER TABLE customers_contract ADD CONSTRAINT {CONSTRAINT} "
        "EXCLUDE USING gist (token_id WITH =, tstzrange(valid_from, valid_until) WITH &&)"
    )


def drop_exclusion(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(f"ALTER TABLE customers_contract DROP CONSTRAINT IF EXISTS {CONSTRAINT}")


class Migration(migrations.Migration):
    dependencies = [("customers", "0003_contract_versions_packages_groups")]

    operations = [migrations.RunPython(add_exclusion, drop_exclusion)]
