#!/usr/bin/env bash
# `kubectl kustomize manifests/` renders the controller installation: the
# objects, least-privilege RBAC (no wildcards, Secrets get-only) and a
# locked-down controller Deployment; `manifests/namespaced/` the same with a
# Role per watched namespace instead of the ClusterRole.
# Usage: kustomize_base_test.sh SOURCE_DIR
set -euo pipefail
source_dir=$1
. "$(dirname "$0")/lib.sh"

rendered=$work/base.yaml
render "$source_dir/manifests" "$rendered"
objects=$work/objects
split_objects "$rendered" "$objects"

object_list() { (cd "$objects" && ls | sort | tr '\n' ' '); }
check "rendered objects" equals "ClusterRoleBinding_schemaop-controller.yaml ClusterRole_schemaop-controller.yaml CustomResourceDefinition_schemamigrations.schemaop.dev.yaml Deployment_schemaop-controller.yaml Namespace_schemaop-system.yaml PersistentVolumeClaim_schemaop-backups.yaml RoleBinding_schemaop-leader-election.yaml Role_schemaop-leader-election.yaml ServiceAccount_schemaop-controller.yaml Service_schemaop-controller-metrics.yaml " \
  "$(object_list)"

namespaced_in_system() {
  local file ok=0
  for file in Deployment_schemaop-controller PersistentVolumeClaim_schemaop-backups Role_schemaop-leader-election \
    RoleBinding_schemaop-leader-election Service_schemaop-controller-metrics ServiceAccount_schemaop-controller; do
    equals "schemaop-system" "$(jp "$objects/$file.yaml" '{.metadata.namespace}')" || ok=1
  done
  return $ok
}
check "namespaced objects live in schemaop-system" namespaced_in_system

# Which permissions the controller needs is checked by running it: the e2e
# tier applies the rendered RBAC to an API server that enforces it and runs
# the controller as this ServiceAccount, so a missing permission fails a
# test there. Here only the properties issue 8 promises.
# create/delete: the Secret of a Job rehearsal's scratch copy URL (design §10.9).
check "Secrets: get, create, delete (no list/watch: no Secret cache in the cluster)" equals "core secrets create
core secrets delete
core secrets get" \
  "$(permissions "$objects/ClusterRole_schemaop-controller.yaml" | grep ' secrets ')"
check "leader-election Role grants only Lease get/create/update" equals "coordination.k8s.io leases create
coordination.k8s.io leases get
coordination.k8s.io leases update" "$(permissions "$objects/Role_schemaop-leader-election.yaml")"

# The deletes: a CronJob's running Jobs, with jobs: Delete (design §6.8),
# and the Job executor's own Jobs and rehearsal Secret (design §10.9).
check "the only deletes are of batch jobs and the rehearsal Secret" equals "batch jobs delete
core secrets delete" \
  "$(permissions "$objects/ClusterRole_schemaop-controller.yaml" | grep ' delete$')"
no_wildcards_or_escalation() {
  local file ok=0
  for file in "$objects"/ClusterRole_*.yaml "$objects"/Role_*.yaml; do
    if permissions "$file" | grep -v -E '^(batch jobs|core secrets) delete$' |
      grep -E '\*|(^| )(delete|deletecollection|escalate|bind|impersonate)$'; then
      ok=1
    fi
    # nonResourceURLs and resourceNames-free rules only: nothing beyond the list above.
    equals "" "$(jp_opt "$file" '{.rules[*].nonResourceURLs}')" || ok=1
  done
  return $ok
}
check "no wildcard, other delete or escalation verbs" no_wildcards_or_escalation
check "workloads themselves are read-only (changed only via /scale)" equals "" \
  "$(permissions "$objects/ClusterRole_schemaop-controller.yaml" | grep -E '^apps (deployments|statefulsets) (create|update|patch)$' || true)"

check "ClusterRoleBinding binds the controller ServiceAccount" equals "ClusterRole/schemaop-controller ServiceAccount/schemaop-system/schemaop-controller" \
  "$(jp "$objects/ClusterRoleBinding_schemaop-controller.yaml" '{.roleRef.kind}/{.roleRef.name} {range .subjects[*]}{.kind}/{.namespace}/{.name}{end}')"
check "RoleBinding binds the controller ServiceAccount" equals "Role/schemaop-leader-election ServiceAccount/schemaop-system/schemaop-controller" \
  "$(jp "$objects/RoleBinding_schemaop-leader-election.yaml" '{.roleRef.kind}/{.roleRef.name} {range .subjects[*]}{.kind}/{.namespace}/{.name}{end}')"

deployment=$objects/Deployment_schemaop-controller.yaml
container='.spec.template.spec.containers[0]'
check "one controller container, image schemaop:0.1.0" equals "controller schemaop:0.1.0" \
  "$(jp "$deployment" '{.spec.template.spec.containers[*].name} {.spec.template.spec.containers[0].image}')"
check "controller arguments" equals '["controller","--leader-elect","--leader-election-id=schemaop-leader","--metrics-bind-address=:8080","--health-probe-bind-address=:8081","--backup-dir=/var/lib/schemaop/backups","--log-format=json"]' \
  "$(jp "$deployment" "{$container.args}")"
check "runs as the controller ServiceAccount" equals "schemaop-controller" \
  "$(jp "$deployment" '{.spec.template.spec.serviceAccountName}')"
check "pod security context: non-root 65532, RuntimeDefault seccomp" equals "true 65532 RuntimeDefault" \
  "$(jp "$deployment" '{.spec.template.spec.securityContext.runAsNonRoot} {.spec.template.spec.securityContext.runAsUser} {.spec.template.spec.securityContext.seccompProfile.type}')"
check "container security context: read-only root, no escalation, no capabilities" equals 'true false ["ALL"] true 65532 RuntimeDefault' \
  "$(jp "$deployment" "{$container.securityContext.readOnlyRootFilesystem} {$container.securityContext.allowPrivilegeEscalation} {$container.securityContext.capabilities.drop} {$container.securityContext.runAsNonRoot} {$container.securityContext.runAsUser} {$container.securityContext.seccompProfile.type}")"
check "probes: /healthz and /readyz on 8081" equals "/healthz health /readyz health health=8081 metrics=8080 " \
  "$(jp "$deployment" "{$container.livenessProbe.httpGet.path} {$container.livenessProbe.httpGet.port} {$container.readinessProbe.httpGet.path} {$container.readinessProbe.httpGet.port} {range $container.ports[*]}{.name}={.containerPort} {end}" |
    sed 's/metrics=8080 health=8081 /health=8081 metrics=8080 /')"
check "resource requests and limits set" equals "4" \
  "$(jp "$deployment" "{$container.resources.requests.cpu} {$container.resources.requests.memory} {$container.resources.limits.cpu} {$container.resources.limits.memory}" | wc -w | tr -d ' ')"
check "backups on the PVC, /tmp on an emptyDir" equals "backups=/var/lib/schemaop/backups tmp=/tmp | backups:schemaop-backups tmp:{\"sizeLimit\":\"256Mi\"}" \
  "$(jp_opt "$deployment" "{range $container.volumeMounts[*]}{.name}={.mountPath} {end}| {range .spec.template.spec.volumes[*]}{.name}:{.persistentVolumeClaim.claimName}{.emptyDir} {end}" | sed 's/ $//')"
check "metrics Service targets the controller pods on 8080" equals "metrics 8080 metrics controller schemaop" \
  "$(jp "$objects/Service_schemaop-controller-metrics.yaml" '{.spec.ports[0].name} {.spec.ports[0].port} {.spec.ports[0].targetPort} {.spec.selector.app\.kubernetes\.io/component} {.spec.selector.app\.kubernetes\.io/name}')"
check "pod template carries the Service's selector labels" equals "controller schemaop" \
  "$(jp "$deployment" '{.spec.template.metadata.labels.app\.kubernetes\.io/component} {.spec.template.metadata.labels.app\.kubernetes\.io/name}')"
check "CRD included unchanged from crds/" equals "$(jp "$source_dir/crds/schemaop.dev_schemamigrations.yaml" '{.spec}')" \
  "$(jp "$objects/CustomResourceDefinition_schemamigrations.schemaop.dev.yaml" '{.spec}')"

# ---- manifests/namespaced/: Roles in the watched namespace, no ClusterRole.
namespaced=$work/namespaced.yaml
render "$source_dir/manifests/namespaced" "$namespaced"
nobjects=$work/namespaced-objects
split_objects "$namespaced" "$nobjects"
check "namespaced: rendered objects (no ClusterRole or ClusterRoleBinding)" equals "CustomResourceDefinition_schemamigrations.schemaop.dev.yaml Deployment_schemaop-controller.yaml Namespace_schemaop-system.yaml PersistentVolumeClaim_schemaop-backups.yaml RoleBinding_schemaop-controller.yaml RoleBinding_schemaop-leader-election.yaml Role_schemaop-controller.yaml Role_schemaop-leader-election.yaml ServiceAccount_schemaop-controller.yaml Service_schemaop-controller-metrics.yaml " \
  "$(cd "$nobjects" && ls | sort | tr '\n' ' ')"
check "namespaced: the Role grants the ClusterRole's rules" equals \
  "$(permissions "$objects/ClusterRole_schemaop-controller.yaml")" \
  "$(permissions "$nobjects/Role_schemaop-controller.yaml")"
check "namespaced: Role and RoleBinding in the watched namespace, bound to the controller" equals \
  "drawing drawing Role/schemaop-controller ServiceAccount/schemaop-system/schemaop-controller" \
  "$(jp "$nobjects/Role_schemaop-controller.yaml" '{.metadata.namespace}') $(jp "$nobjects/RoleBinding_schemaop-controller.yaml" '{.metadata.namespace} {.roleRef.kind}/{.roleRef.name} {range .subjects[*]}{.kind}/{.namespace}/{.name}{end}')"
check "namespaced: the controller watches only that namespace" equals \
  '["controller","--leader-elect","--leader-election-id=schemaop-leader","--metrics-bind-address=:8080","--health-probe-bind-address=:8081","--backup-dir=/var/lib/schemaop/backups","--log-format=json","--namespaces=drawing"]' \
  "$(jp "$nobjects/Deployment_schemaop-controller.yaml" '{.spec.template.spec.containers[0].args}')"
check "namespaced: everything else as in the base" equals \
  "$(jp "$objects/Role_schemaop-leader-election.yaml" '{.metadata.namespace} {.rules}') $(jp "$objects/ServiceAccount_schemaop-controller.yaml" '{.metadata.namespace}')" \
  "$(jp "$nobjects/Role_schemaop-leader-election.yaml" '{.metadata.namespace} {.rules}') $(jp "$nobjects/ServiceAccount_schemaop-controller.yaml" '{.metadata.namespace}')"

finish
