# shellcheck shell=bash
# CronJobs, Jobs and KEDA for the e2e tests of other writers (sourced after
# e2e.sh by writers_test.sh and rbac_test.sh; design §6.8). No CronJob, Job
# or KEDA controller runs against the test API server: the tests create the
# Jobs and their status as those controllers would.

# apply_cronjob NAME: a CronJob in the e2e namespace, not suspended.
apply_cronjob() {
  kubectl apply --validate=false -f - >/dev/null <<YAML || fail "apply of CronJob $1"
apiVersion: batch/v1
kind: CronJob
metadata: {name: $1, namespace: $E2E_NS}
spec:
  schedule: "0 3 * * *"
  suspend: false
  jobTemplate:
    spec:
      template:
        spec:
          restartPolicy: Never
          containers: [{name: report, image: python:3.11-slim}]
YAML
}

# running_job CRONJOB NAME: a Job of CRONJOB (ownerReferences, as the CronJob
# controller creates them) with one active pod NAME-pod, which the Job owns.
running_job() {
  local uid job_uid
  uid=$(kubectl get cronjob "$1" -n "$E2E_NS" -o jsonpath='{.metadata.uid}')
  kubectl apply --validate=false -f - >/dev/null <<YAML || fail "apply of Job $2"
apiVersion: batch/v1
kind: Job
metadata:
  name: $2
  namespace: $E2E_NS
  ownerReferences:
    - {apiVersion: batch/v1, kind: CronJob, name: $1, uid: "$uid", controller: true}
spec:
  template:
    spec:
      restartPolicy: Never
      containers: [{name: report, image: python:3.11-slim}]
YAML
  kubectl patch job "$2" -n "$E2E_NS" --subresource=status --type=merge \
    -p '{"status":{"active":1}}' >/dev/null || fail "status of Job $2"
  job_uid=$(kubectl get job "$2" -n "$E2E_NS" -o jsonpath='{.metadata.uid}')
  kubectl apply --validate=false -f - >/dev/null <<YAML || fail "apply of the pod of Job $2"
apiVersion: v1
kind: Pod
metadata:
  name: $2-pod
  namespace: $E2E_NS
  ownerReferences:
    - {apiVersion: batch/v1, kind: Job, name: $2, uid: "$job_uid", controller: true}
spec:
  containers: [{name: report, image: python:3.11-slim}]
YAML
}

# install_keda_crd: the ScaledObject CRD (tests/e2e/testdata), Established.
install_keda_crd() {
  kubectl apply --validate=false -f "$E2E_SRC/tests/e2e/testdata/keda-scaledobject-crd.yaml" >/dev/null ||
    fail "apply of the ScaledObject CRD"
  kubectl wait --for=condition=Established crd/scaledobjects.keda.sh --timeout=30s >/dev/null ||
    fail "the ScaledObject CRD was not Established"
}

# apply_hpa NAME DEPLOYMENT MIN_REPLICAS: an autoscaling/v2 HPA on DEPLOYMENT.
apply_hpa() {
  kubectl apply --validate=false -f - >/dev/null <<YAML || fail "apply of HPA $1"
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata: {name: $1, namespace: $E2E_NS}
spec:
  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: $2}
  minReplicas: $3
  maxReplicas: 10
  metrics:
    - type: Resource
      resource: {name: cpu, target: {type: Utilization, averageUtilization: 70}}
YAML
}

# apply_scaled_object NAME DEPLOYMENT [PAUSED-REPLICAS]: a KEDA ScaledObject
# on DEPLOYMENT (install_keda_crd first), paused at PAUSED-REPLICAS if given.
apply_scaled_object() {
  local annotations="{}"
  [ -z "${3:-}" ] || annotations="{autoscaling.keda.sh/paused-replicas: \"$3\"}"
  kubectl apply --validate=false -f - >/dev/null <<YAML || fail "apply of ScaledObject $1"
apiVersion: keda.sh/v1alpha1
kind: ScaledObject
metadata: {name: $1, namespace: $E2E_NS, annotations: $annotations}
spec:
  scaleTargetRef: {name: $2}
  triggers: [{type: redis, metadata: {listName: celery, listLength: "10"}}]
YAML
}
