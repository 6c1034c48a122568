# shellcheck shell=bash
# A slow migration for the e2e tests that act on a run in progress (sourced
# after e2e.sh by runs_test.sh and writers_test.sh): the ConfigMap
# slow-migrations is the drawing migrations plus one revision, slow_step,
# whose up SQL the test chooses (e.g. SELECT pg_sleep(600);).

# slow_configmap SQL: the drawing migrations plus slow_step (SQL as its up).
slow_configmap() {
  local dir=$E2E_WORK/slow-migrations
  rm -rf "$dir" && mkdir -p "$dir" && cp "$E2E_SRC"/migrations/drawing/*.sql "$dir"/
  cat >"$dir/slow_step.sql" <<EOF
-- revision: slow_step
-- down_revision: 9bc6a98f1c12
-- message: a slow step

-- migrate:up
CREATE TABLE slow_marker (id integer);
$1

-- migrate:down
DROP TABLE slow_marker;
EOF
  kubectl create configmap slow-migrations -n "$E2E_NS" --from-file="$dir" --dry-run=client -o yaml |
    kubectl apply --validate=false -f - >/dev/null || fail "apply of ConfigMap slow-migrations"
}
# The SchemaMigration drawing-db on slow-migrations, target slow_step.
apply_slow_smig() {  # apply_slow_smig EXTRA-SPEC-JSON
  apply_smig upgrade.yaml "{\"spec\":{\"targetRevision\":\"slow_step\",
    \"migrations\":{\"configMapRef\":{\"name\":\"slow-migrations\"}},
    \"verify\":{\"checks\":null},\"statementTimeout\":\"1h\",\"lockTimeout\":\"300s\"${1:+,$1}}}"
}
sleeping() {  # a schemaop session of this database runs pg_sleep
  [ "$(q "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()
          AND application_name LIKE 'schemaop%' AND query LIKE '%pg_sleep%'
          AND state = 'active'")" -ge 1 ]
}
not_sleeping() { ! sleeping; }
