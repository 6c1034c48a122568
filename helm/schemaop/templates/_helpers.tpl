{{/* Chart name, overridable. */}}
{{- define "schemaop.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Full name of the release's objects. */}}
{{- define "schemaop.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "schemaop.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Selector labels: stable across upgrades. */}}
{{- define "schemaop.selectorLabels" -}}
app.kubernetes.io/name: {{ include "schemaop.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: controller
{{- end }}

{{- define "schemaop.labels" -}}
helm.sh/chart: {{ include "schemaop.chart" . }}
{{ include "schemaop.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: schemaop
{{- end }}

{{- define "schemaop.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "schemaop.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "schemaop.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}

{{- define "schemaop.backupClaimName" -}}
{{- default (printf "%s-backups" (include "schemaop.fullname" .)) .Values.backup.persistence.existingClaim }}
{{- end }}

{{/*
The controller's permissions: the same rules as manifests/rbac.yaml (a test
keeps them equal), exactly the verbs the controller uses, no wildcards.
Secrets are only read by name when a run needs the database URL (get; no
list/watch, no cache); workloads are changed only through their scale
subresource. Granted by a ClusterRole, or by a Role in each of
.Values.watchNamespaces.
*/}}
{{- define "schemaop.controllerRules" -}}
rules:
  # Watched; read live after a write conflict; the finalizer is patched.
  - apiGroups: ["schemaop.dev"]
    resources: ["schemamigrations"]
    verbs: ["get", "list", "watch", "patch"]
  # Status is written whole, against the resourceVersion read (PUT).
  - apiGroups: ["schemaop.dev"]
    resources: ["schemamigrations/status"]
    verbs: ["update"]
  # The database URL, read by name when a run needs it. A rehearsal with
  # executor Job (design §10.9) creates the Secret of its scratch copy's URL,
  # owned by the SchemaMigration, and deletes it when the rehearsal ends.
  - apiGroups: [""]
    resources: ["secrets"]
    verbs: ["get", "create", "delete"]
  # Migration files: watched, read live when the cache holds them trimmed.
  - apiGroups: [""]
    resources: ["configmaps"]
    verbs: ["get", "list", "watch"]
  - apiGroups: [""]
    resources: ["pods"]
    verbs: ["list"]
  # Watched for changes; read for observedGeneration while draining.
  - apiGroups: ["apps"]
    resources: ["deployments", "statefulsets"]
    verbs: ["get", "list", "watch"]
  # The only write to a workload: spec.replicas through a merge patch.
  - apiGroups: ["apps"]
    resources: ["deployments/scale", "statefulsets/scale"]
    verbs: ["get", "patch"]
  # A CronJob writer is suspended and resumed through a merge patch of
  # spec.suspend (design §6.8).
  - apiGroups: ["batch"]
    resources: ["cronjobs"]
    verbs: ["get", "patch"]
  # A CronJob's running Jobs: listed while draining, deleted with jobs: Delete.
  # spec.executor Job (design §10): the migration Jobs are created, read
  # (status conditions) and deleted, and their pods' logs read.
  - apiGroups: ["batch"]
    resources: ["jobs"]
    verbs: ["create", "get", "list", "delete"]
  - apiGroups: [""]
    resources: ["pods/log"]
    verbs: ["get"]
  # The autoscalers of a workload: HPAs are only read (a target at 0
  # replicas disables them); a KEDA ScaledObject is paused and resumed
  # through its paused-replicas annotation.
  - apiGroups: ["autoscaling"]
    resources: ["horizontalpodautoscalers"]
    verbs: ["list"]
  - apiGroups: ["keda.sh"]
    resources: ["scaledobjects"]
    verbs: ["list", "patch"]
  # Events are written through core/v1 only (not events.k8s.io).
  - apiGroups: [""]
    resources: ["events"]
    verbs: ["create", "patch"]
{{- range .Values.rbac.extraScaleResources }}
  {{- range .resources }}
  {{- if not (hasSuffix "/scale" .) }}
  {{- fail (printf "rbac.extraScaleResources: %q is not a scale subresource: list <plural>/scale (e.g. rollouts/scale); the controller needs nothing else of a workload" .) }}
  {{- end }}
  {{- end }}
  # Workloads of another kind in spec.workloads: only their scale subresource.
  - apiGroups: [{{ .apiGroup | quote }}]
    resources: {{ toJson .resources }}
    verbs: ["get", "patch"]
{{- end }}
{{- end }}
