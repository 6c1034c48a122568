#!/usr/bin/env bash
# The SchemaMigration CRD (crds/) parses and carries the names, printer
# columns, required fields, enums, defaults, patterns and CEL rules of the
# design (§5), and the Helm chart ships the very same file.
# Usage: crd_test.sh SOURCE_DIR
set -euo pipefail
source_dir=$1
. "$(dirname "$0")/lib.sh"

crd=$source_dir/crds/schemaop.dev_schemamigrations.yaml
v='.spec.versions[0]'
schema="$v.schema.openAPIV3Schema"
spec="$schema.properties.spec.properties"
status="$schema.properties.status.properties"

field() { equals "$1" "$(jp "$crd" "{$2}")"; }

check "CRD name and group" field "schemamigrations.schemaop.dev schemaop.dev Namespaced" \
  ".metadata.name} {.spec.group} {.spec.scope"
check "kind, plural, singular, list kind" field "SchemaMigration schemamigrations schemamigration SchemaMigrationList" \
  ".spec.names.kind} {.spec.names.plural} {.spec.names.singular} {.spec.names.listKind"
check "short name smig, category schemaop" field '["smig"] ["schemaop"]' \
  ".spec.names.shortNames} {.spec.names.categories"
check "one version v1alpha1, served and storage" field "v1alpha1 true true v1alpha1" \
  "$v.name} {$v.served} {$v.storage} {.spec.versions[*].name"
check "status subresource" field "{}" "$v.subresources.status"
check "printer columns" field "Current=.status.currentRevision Target=.spec.targetRevision Phase=.status.phase Ready=.status.conditions[?(@.type==\"Ready\")].status Progress=.status.progress.summary Age=.metadata.creationTimestamp " \
  "range $v.additionalPrinterColumns[*]}{.name}={.jsonPath} {end"
check "Age column is a date" field "date" "$v.additionalPrinterColumns[?(@.name==\"Age\")].type"

check "spec is required" field '["spec"]' "$schema.required"
check "required spec fields" field '["targetRevision","database"]' "$schema.properties.spec.required"
# spec.migrations is required with executor Files only (design §10).
check "CEL: migrations with Files, job with Job and only with Job; with Job a backup and a revision id; GolangMigrate only with Job, numeric targets" field \
  "(has(self.executor) && self.executor == 'Job') || has(self.migrations);!has(self.executor) || self.executor != 'Job' || has(self.job);!has(self.job) || (has(self.executor) && self.executor == 'Job');!has(self.executor) || self.executor != 'Job' || !has(self.backup) || !has(self.backup.when) || self.backup.when != 'Never';!has(self.executor) || self.executor != 'Job' || (self.targetRevision.matches('^[A-Za-z0-9_]{1,32}\$') && !(self.targetRevision in ['heads', 'base']));!has(self.database.versionLayout) || self.database.versionLayout != 'GolangMigrate' || (has(self.executor) && self.executor == 'Job');!has(self.database.versionLayout) || self.database.versionLayout != 'GolangMigrate' || self.targetRevision == 'head' || self.targetRevision.matches('^(0|[1-9][0-9]{0,17})\$');!has(self.database.versionLayout) || self.database.versionLayout != 'GolangMigrate' || (has(self.database.versionTable) && self.database.versionTable != 'alembic_version');" \
  "range $schema.properties.spec.x-kubernetes-validations[*]}{.rule};{end"
check "database.urlSecretRef required" field '["urlSecretRef"]' "$spec.database.required"
check "urlSecretRef name and key required" field '["name","key"]' "$spec.database.properties.urlSecretRef.required"
check "migrations.configMapRef.name required" field '["configMapRef"] ["name"]' \
  "$spec.migrations.required} {$spec.migrations.properties.configMapRef.required"
check "workload name required" field '["name"]' "$spec.workloads.items.required"
check "check name and sql required" field '["name","sql"]' "$spec.verify.properties.checks.items.required"

check "workload kind: any Kind (CronJob too), default Deployment" field '^[A-Z][A-Za-z0-9]*$ Deployment' \
  "$spec.workloads.items.properties.kind.pattern} {$spec.workloads.items.properties.kind.default"
check "CEL: apiVersion required for kinds other than Deployment/StatefulSet/CronJob" field \
  "has(self.apiVersion) || self.kind in ['Deployment', 'StatefulSet', 'CronJob']" \
  "$spec.workloads.items.x-kubernetes-validations[1].rule"
check "status.workloads records apiVersion" field "string" "$status.workloads.items.properties.apiVersion.type"
check "at most 50 workloads" field "50" "$spec.workloads.maxItems"
check "a CronJob's jobs: Wait or Delete" field '["Wait","Delete"]' "$spec.workloads.items.properties.jobs.enum"
check "backup.when enum and default" field '["Downgrade","Always","Never"] Downgrade' \
  "$spec.backup.properties.when.enum} {$spec.backup.properties.when.default"
# YAML 1.1 reads a bare Off as the boolean false; the enum must hold the string.
check "verify.rowCounts enum holds the string Off, default Preserve" field '["Preserve","Off"] Preserve' \
  "$spec.verify.properties.rowCounts.enum} {$spec.verify.properties.rowCounts.default"
check "verify.schema enum and default" field '["Enforce","Ignore"] Enforce' \
  "$spec.verify.properties.schema.enum} {$spec.verify.properties.schema.default"
check "failurePolicy enum and default" field '["Rollback","Halt"] Rollback' \
  "$spec.failurePolicy.enum} {$spec.failurePolicy.default"
check "defaults: versionTable, drainTimeoutSeconds, suspend" field "alembic_version 300 1 false" \
  "$spec.database.properties.versionTable.default} {$spec.drainTimeoutSeconds.default} {$spec.drainTimeoutSeconds.minimum} {$spec.suspend.default"
check "backup and verify default to {} so their fields get defaults" field "{} {}" \
  "$spec.backup.default} {$spec.verify.default"
check "allowRowLoss is a set of strings" field "set string" \
  "$spec.verify.properties.allowRowLoss.x-kubernetes-list-type} {$spec.verify.properties.allowRowLoss.items.type"

check "CEL: workloads unique" field 'self.all(w, self.exists_one(x, x.kind == w.kind && x.name == w.name))' \
  "$spec.workloads.x-kubernetes-validations[0].rule"
check "CEL: check names unique" field 'self.all(c, self.exists_one(x, x.name == c.name))' \
  "$spec.verify.properties.checks.x-kubernetes-validations[0].rule"

check "status phases" field '["Pending","Planning","Rehearsing","Expanding","ScalingDown","Draining","BackingUp","Migrating","Verifying","RollingBack","ScalingUp","Contracting","Succeeded","Failed"]' \
  "$status.phase.enum"
check "status fields" field "integer string string object array object object object array" \
  "$status.observedGeneration.type} {$status.currentRevision.type} {$status.targetRevision.type} {$status.plan.type} {$status.workloads.type} {$status.backup.type} {$status.lastRun.type} {$status.run.type} {$status.conditions.type"
check "status.workloads records originalReplicas" field "integer" "$status.workloads.items.properties.originalReplicas.type"
check "status.lastRun.downtimeSeconds is a number" field "number" "$status.lastRun.properties.downtimeSeconds.type"
# Fields missing from a structural schema are pruned by the API server: every
# field the controller writes to lastRun must be declared.
check "status.lastRun fields" field "string string string string string string string number string integer string" \
  "$status.lastRun.properties.from.type} {$status.lastRun.properties.to.type} {$status.lastRun.properties.startTime.type} {$status.lastRun.properties.finishTime.type} {$status.lastRun.properties.outcome.type} {$status.lastRun.properties.reason.type} {$status.lastRun.properties.message.type} {$status.lastRun.properties.downtimeSeconds.type} {$status.lastRun.properties.migrationsDigest.type} {$status.lastRun.properties.generation.type} {$status.plan.properties.steps.items.properties.direction.type"
check "status.resolvedTarget and databaseIdentity are declared" field "object string string integer string string" \
  "$status.resolvedTarget.type} {$status.resolvedTarget.properties.targetRevision.type} {$status.resolvedTarget.properties.revision.type} {$status.resolvedTarget.properties.generation.type} {$status.resolvedTarget.properties.migrationsDigest.type} {$status.databaseIdentity.type"
check "status.run keeps controller resume state" field "true" "$status.run.x-kubernetes-preserve-unknown-fields"
check "conditions: list map keyed by type" field 'map ["type"]' \
  "$status.conditions.x-kubernetes-list-type} {$status.conditions.x-kubernetes-list-map-keys"
check "conditions: metav1.Condition shape" field '["type","status","lastTransitionTime","reason","message"] ["True","False","Unknown"] date-time' \
  "$status.conditions.items.required} {$status.conditions.items.properties.status.enum} {$status.conditions.items.properties.lastTransitionTime.format"

# Patterns are RE2 on the API server; these use only the POSIX ERE subset, so
# grep -E evaluates them the same way.
matches() { printf '%s\n' "$2" | grep -Eq -- "$1"; }
pattern_accepts() {
  local pattern=$1 value ok=0
  shift
  for value in "$@"; do
    matches "$pattern" "$value" || { echo "  pattern $pattern rejects '$value'"; ok=1; }
  done
  return $ok
}
pattern_rejects() {
  local pattern=$1 value ok=0
  shift
  for value in "$@"; do
    ! matches "$pattern" "$value" || { echo "  pattern $pattern accepts '$value'"; ok=1; }
  done
  return $ok
}
target_pattern=$(jp "$crd" "{$spec.targetRevision.pattern}")
check "targetRevision accepts Alembic targets" pattern_accepts "$target_pattern" \
  seed_default_schemas 9bc6a98f1c12 9bc6 head heads base +1 -2 ae10+2 head-1 abcdefghijklmnopqrstuvwxyz012345
check "targetRevision rejects other text" pattern_rejects "$target_pattern" \
  "" "a b" "9bc6;DROP" "+" "-" "heads@x" "abcdefghijklmnopqrstuvwxyz0123456" "1+" "ae10+2+3"
duration_pattern=$(jp "$crd" "{$spec.lockTimeout.pattern}")
check "statementTimeout and lockTimeout share one pattern" field "$duration_pattern" "$spec.statementTimeout.pattern"
check "timeouts accept durations" pattern_accepts "$duration_pattern" 0 10s 500ms 5m 1h 1m30s
check "timeouts reject other text" pattern_rejects "$duration_pattern" "" 10 1.5s 10sec -1s "5 m" 00x
name_pattern=$(jp "$crd" "{$spec.workloads.items.properties.name.pattern}")
check "workload names are DNS subdomains" pattern_accepts "$name_pattern" backend celery-worker a.b-c
check "workload names reject invalid names" pattern_rejects "$name_pattern" Backend -x "x_y" "x."
api_version_pattern=$(jp "$crd" "{$spec.workloads.items.properties.apiVersion.pattern}")
check "workload apiVersion accepts group/version and v1" pattern_accepts "$api_version_pattern" \
  argoproj.io/v1alpha1 apps/v1 v1 example.com/v2beta3 keda.sh/v1
check "workload apiVersion rejects other text" pattern_rejects "$api_version_pattern" \
  "" argoproj.io apps/ /v1 Apps/v1 apps/v1/x "apps/ v1" apps/version1 apps/v1gamma1
hash_pattern=$(jp "$crd" "{$spec.approvedPlanHash.pattern}")
check "approvedPlanHash accepts a sha256 in lowercase hex" pattern_accepts "$hash_pattern" \
  0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef
check "approvedPlanHash rejects anything else" pattern_rejects "$hash_pattern" \
  "" 0123456789ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef \
  0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcde \
  "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef0" "sha256:abc"
check "approval defaults to Automatic" field Automatic "$spec.approval.default"

job="$spec.job.properties"
check "executor enum and default" field '["Files","Job"] Files' "$spec.executor.enum} {$spec.executor.default"
check "job: image required; preset enum and default; defaults" field \
  '["image"] ["Alembic","Generic"] Alembic DATABASE_URL 3600 3600' \
  "$spec.job.required} {$job.preset.enum} {$job.preset.default} {$job.urlEnv.default} {$job.ttlSecondsAfterFinished.default} {$job.activeDeadlineSeconds.default"
check "job commands: the six verbs, each an argv" field "array array array array array array 64 1024" \
  "$job.commands.properties.upgrade.type} {$job.commands.properties.downgrade.type} {$job.commands.properties.upgradeSql.type} {$job.commands.properties.downgradeSql.type} {$job.commands.properties.heads.type} {$job.commands.properties.history.type} {$job.commands.properties.upgrade.maxItems} {$job.commands.properties.upgrade.items.maxLength"
for verb in upgrade downgrade upgradeSql downgradeSql heads history; do
  check "CEL: commands.$verb refuses \$( (Kubernetes' env expansion into argv)" field \
    "self.all(a, !a.contains('\$('))" "$job.commands.properties.$verb.x-kubernetes-validations[0].rule"
done
check "CEL: every command but heads needs \$TARGET" field \
  "self.exists(a, a.contains('\$TARGET')) self.exists(a, a.contains('\$TARGET')) self.exists(a, a.contains('\$TARGET')) self.exists(a, a.contains('\$TARGET')) self.exists(a, a.contains('\$TARGET'))" \
  "$job.commands.properties.upgrade.x-kubernetes-validations[1].rule} {$job.commands.properties.downgrade.x-kubernetes-validations[1].rule} {$job.commands.properties.upgradeSql.x-kubernetes-validations[1].rule} {$job.commands.properties.downgradeSql.x-kubernetes-validations[1].rule} {$job.commands.properties.history.x-kubernetes-validations[1].rule"
check "commands.heads has only the \$( rule" equals 1 \
  "$(jp "$crd" "{$job.commands.properties.heads.x-kubernetes-validations}" | grep -o '"rule"' | wc -l)"
check "job.image: printable, no spaces" pattern_accepts "$(jp "$crd" "{$job.image.pattern}")" \
  registry.example/drawing:1.4.2 "ghcr.io/a/b@sha256:0123abcd"
check "job.image rejects spaces" pattern_rejects "$(jp "$crd" "{$job.image.pattern}")" "a b" ""
check "CEL: job.urlEnv is not PGAPPNAME (the operator sets it)" field "self != 'PGAPPNAME'" \
  "$job.urlEnv.x-kubernetes-validations[0].rule"
check "job.urlEnv is an environment variable name" pattern_rejects "$(jp "$crd" "{$job.urlEnv.pattern}")" \
  "1A" "A-B" "A B" ""
check "versionLayout enum and default (design §10.8)" field '["Alembic","GolangMigrate"] Alembic' \
  "$spec.database.properties.versionLayout.enum} {$spec.database.properties.versionLayout.default"
check "versionTable is a plain SQL identifier" pattern_rejects \
  "$(jp "$crd" "{$spec.database.properties.versionTable.pattern}")" "alembic version" "x;drop" "1abc" ""

chart_crd=$source_dir/helm/schemaop/crds/schemaop.dev_schemamigrations.yaml
check "Helm chart CRD is byte-for-byte crds/" cmp "$crd" "$chart_crd"

# kubectl reads it through kustomize too.
crds_rendered=$work/crds.yaml
render "$source_dir/crds" "$crds_rendered"
check "crds/ kustomization renders exactly the CRD" equals "CustomResourceDefinition/schemamigrations.schemaop.dev;" \
  "$(jp "$crds_rendered" '{.kind}/{.metadata.name};')"

finish
