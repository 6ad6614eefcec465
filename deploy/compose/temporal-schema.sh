#!/bin/sh
# One-shot: create Temporal's two databases on PostgreSQL and bring their schemas up to date.
# Safe to run again (create fails harmlessly on an existing database; update is idempotent).
set -eu
TOOL="temporal-sql-tool --plugin postgres12 --ep temporal-postgresql -u temporal -p 5432"
SCHEMA=/etc/temporal/schema/postgresql/v12
for db in temporal temporal_visibility; do
  $TOOL --db "$db" create || true
  $TOOL --db "$db" setup-schema -v 0.0 || true
done
$TOOL --db temporal update-schema -d "$SCHEMA/temporal/versioned"
$TOOL --db temporal_visibility update-schema -d "$SCHEMA/visibility/versioned"
echo "Temporal schema is up to date"
