# shellcheck shell=bash
# A slow migration for the e2e tests that act on a run in progress (sourced
# after e2e.sh by runs_test.sh and writers_test.sh): the ConfigMap
# slow-migrations (e2e.sh's slow_configmap) is the drawing migrations plus
# one revision, slow_step, whose up SQL the test chooses.

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
progress_at() {  # status.progress of slow_step at statement N or later
  local at
  at=$(smig '{.status.progress.revision} {.status.progress.statement}')
  [ "${at% *}" = slow_step ] && [ "${at#* }" -ge "$1" ] 2>/dev/null
}
