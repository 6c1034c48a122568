-- Runs docs/argocd-health.lua the way Argo CD does (the live object as the
-- global `obj`, the returned table read) against sample SchemaMigrations.
-- Usage: lua5.4 argocd_health_test.lua /path/to/docs/argocd-health.lua
local script_path = assert(arg[1], "usage: lua5.4 argocd_health_test.lua <argocd-health.lua>")
local source_file = assert(io.open(script_path, "r"))
local source = source_file:read("a")
source_file:close()

local function health(object)
  -- A fresh environment per call: the script assigns the global `hs`, and one
  -- case must not see what an earlier one left behind.
  local env = setmetatable({ obj = object }, { __index = _G })
  local chunk = assert(load(source, "=argocd-health.lua", "t", env))
  local result = chunk()
  assert(type(result) == "table", "the script must return a table")
  return result
end

local function condition(condition_type, status, reason, message, observed_generation)
  return {
    type = condition_type,
    status = status,
    reason = reason,
    message = message,
    observedGeneration = observed_generation,
    lastTransitionTime = "2025-01-01T00:00:00Z",
  }
end

local function migration(generation, spec, status)
  spec = spec or {}
  spec.targetRevision = spec.targetRevision or "seed_default_schemas"
  return {
    apiVersion = "schemaop.dev/v1alpha1",
    kind = "SchemaMigration",
    metadata = { name = "drawing-db", namespace = "drawing", generation = generation },
    spec = spec,
    status = status,
  }
end

local cases = {
  {
    name = "no status yet",
    object = migration(1, nil, nil),
    status = "Progressing",
    message = "Waiting for controller",
  },
  {
    name = "empty status (no observedGeneration)",
    object = migration(1, nil, {}),
    status = "Progressing",
    message = "Waiting for controller",
  },
  {
    name = "Ready=True at the current generation",
    object = migration(2, nil, {
      observedGeneration = 2,
      currentRevision = "seed_default_schemas",
      conditions = {
        condition("Ready", "True", "AtTargetRevision", "At revision seed_default_schemas", 2),
        condition("Reconciling", "False", "AtTargetRevision", "", 2),
        condition("Stalled", "False", "AtTargetRevision", "", 2),
      },
    }),
    status = "Healthy",
    message = "At revision seed_default_schemas",
  },
  {
    name = "Ready=True without condition observedGeneration uses the status one",
    object = migration(4, nil, {
      observedGeneration = 4,
      currentRevision = "9bc6a98f1c12",
      conditions = { condition("Ready", "True", "AtTargetRevision", "", nil) },
    }),
    status = "Healthy",
    message = "At revision 9bc6a98f1c12",
  },
  {
    name = "stale status.observedGeneration after a spec change",
    object = migration(3, { targetRevision = "9bc6a98f1c12" }, {
      observedGeneration = 2,
      conditions = { condition("Ready", "True", "AtTargetRevision", "At revision seed_default_schemas", 2) },
    }),
    status = "Progressing",
    message = "Waiting for controller to observe generation 3",
  },
  {
    name = "Ready=True but the condition is older than the status",
    object = migration(3, nil, {
      observedGeneration = 3,
      conditions = { condition("Ready", "True", "AtTargetRevision", "At revision seed_default_schemas", 2) },
    }),
    status = "Progressing",
    message = "Waiting for controller",
  },
  {
    name = "a run in progress",
    object = migration(3, nil, {
      observedGeneration = 3,
      phase = "Migrating",
      conditions = {
        condition("Ready", "False", "Migrating", "Migrating to 9bc6a98f1c12", 3),
        condition("Reconciling", "True", "Migrating", "Downgrading seed_default_schemas -> 9bc6a98f1c12", 3),
      },
    }),
    status = "Progressing",
    message = "Downgrading seed_default_schemas -> 9bc6a98f1c12",
  },
  {
    name = "Reconciling=True without a message falls back to the reason",
    object = migration(3, nil, {
      observedGeneration = 3,
      conditions = { condition("Reconciling", "True", "ScalingDown", "", 3) },
    }),
    status = "Progressing",
    message = "ScalingDown",
  },
  {
    name = "Ready=False, retrying with backoff",
    object = migration(5, nil, {
      observedGeneration = 5,
      conditions = {
        condition("Ready", "False", "DatabaseUnreachable", "database unreachable, retrying", 5),
        condition("Reconciling", "False", "DatabaseUnreachable", "", 5),
      },
    }),
    status = "Progressing",
    message = "database unreachable, retrying",
  },
  {
    name = "Stalled=True is Degraded with its message",
    object = migration(6, nil, {
      observedGeneration = 6,
      phase = "Failed",
      conditions = {
        condition("Ready", "False", "VerificationFailed", "rolled back", 6),
        condition("Stalled", "True", "VerificationFailed",
          "check every-component-has-a-schema returned false; rolled back to add_flexible_schemas", 6),
      },
    }),
    status = "Degraded",
    message = "check every-component-has-a-schema returned false; rolled back to add_flexible_schemas",
  },
  {
    name = "Stalled=True without a message uses the reason",
    object = migration(6, nil, {
      observedGeneration = 6,
      conditions = { condition("Stalled", "True", "UnknownRevision", nil, 6) },
    }),
    status = "Degraded",
    message = "UnknownRevision",
  },
  {
    name = "Stalled for an older generation is not Degraded once a new spec was observed",
    object = migration(7, nil, {
      observedGeneration = 7,
      conditions = {
        condition("Stalled", "True", "UnknownRevision", "unknown revision 'nope'", 6),
        condition("Reconciling", "True", "Planning", "Planning upgrade", 7),
      },
    }),
    status = "Progressing",
    message = "Planning upgrade",
  },
  {
    name = "spec.suspend wins over everything",
    object = migration(8, { suspend = true }, {
      observedGeneration = 8,
      conditions = { condition("Stalled", "True", "VerificationFailed", "failed", 8) },
    }),
    status = "Suspended",
    message = "spec.suspend is true: the controller starts no new run",
  },
  {
    name = "spec.suspend false is not Suspended",
    object = migration(9, { suspend = false }, {
      observedGeneration = 9,
      currentRevision = "seed_default_schemas",
      conditions = { condition("Ready", "True", "AtTargetRevision", "", 9) },
    }),
    status = "Healthy",
    message = "At revision seed_default_schemas",
  },
  {
    name = "AwaitingApproval is Suspended with the message",
    object = migration(3, { approval = "Manual" }, {
      observedGeneration = 3,
      phase = "Planning",
      plan = { direction = "upgrade", planHash = string.rep("ab", 32) },
      conditions = {
        condition("Ready", "False", "AwaitingApproval", "Plan abab... waits for approval", 3),
        condition("Reconciling", "True", "AwaitingApproval", "Plan abab... waits for approval", 3),
        condition("Stalled", "False", "AwaitingApproval", "Plan abab... waits for approval", 3),
      },
    }),
    status = "Suspended",
    message = "Plan abab... waits for approval",
  },
  {
    name = "AwaitingApproval without a message names the field",
    object = migration(3, { approval = "Manual" }, {
      observedGeneration = 3,
      conditions = { condition("Reconciling", "True", "AwaitingApproval", "", 3) },
    }),
    status = "Suspended",
    message = "Waiting for approval of the plan (spec.approvedPlanHash)",
  },
  {
    name = "an approval just written (generation not observed yet) is Progressing",
    object = migration(4, { approval = "Manual", approvedPlanHash = string.rep("ab", 32) }, {
      observedGeneration = 3,
      conditions = { condition("Reconciling", "True", "AwaitingApproval", "waits", 3) },
    }),
    status = "Progressing",
    message = "Waiting for controller to observe generation 4",
  },
  {
    name = "an approved run in progress is Progressing",
    object = migration(4, { approval = "Manual", approvedPlanHash = string.rep("ab", 32) }, {
      observedGeneration = 4,
      conditions = {
        condition("Ready", "False", "Progressing", "Running upgrade", 4),
        condition("Reconciling", "True", "Progressing", "Running upgrade", 4),
      },
    }),
    status = "Progressing",
    message = "Running upgrade",
  },
  {
    name = "AwaitingApproval left from an older generation is not Suspended",
    object = migration(5, { approval = "Manual" }, {
      observedGeneration = 5,
      conditions = {
        condition("Reconciling", "True", "AwaitingApproval", "old wait", 4),
        condition("Ready", "False", "Progressing", "Running", 5),
      },
    }),
    status = "Progressing",
    message = "old wait",
  },
  {
    -- design §6.8: someone scaled a writer up during the run; the run
    -- stopped and the workloads are back: Degraded, with who did it.
    name = "WorkloadFoughtBack is Degraded with the writer named",
    object = migration(6, nil, {
      observedGeneration = 6,
      phase = "Failed",
      conditions = {
        condition("Ready", "False", "WorkloadFoughtBack", "Deployment/backend was scaled to 4 "
          .. "replicas during the run by manager \"test-autoscaler\"", 6),
        condition("Reconciling", "False", "WorkloadFoughtBack", "", 6),
        condition("Stalled", "True", "WorkloadFoughtBack", "Deployment/backend was scaled to 4 "
          .. "replicas during the run by manager \"test-autoscaler\"", 6),
      },
    }),
    status = "Degraded",
    message = "Deployment/backend was scaled to 4 replicas during the run by manager "
      .. "\"test-autoscaler\"",
  },
  {
    name = "AutoscalerNotPausable is Degraded",
    object = migration(7, nil, {
      observedGeneration = 7,
      phase = "Failed",
      conditions = {
        condition("Stalled", "True", "AutoscalerNotPausable", "HorizontalPodAutoscaler "
          .. "drawing/backend targets Deployment/backend with minReplicas 0", 7),
      },
    }),
    status = "Degraded",
    message = "HorizontalPodAutoscaler drawing/backend targets Deployment/backend with "
      .. "minReplicas 0",
  },
}

local passed, failed = 0, 0
for _, case in ipairs(cases) do
  local ok, result = pcall(health, case.object)
  if not ok then
    failed = failed + 1
    print(string.format("FAIL %s: script error: %s", case.name, tostring(result)))
  elseif result.status ~= case.status or result.message ~= case.message then
    failed = failed + 1
    print(string.format("FAIL %s: got %s %q, want %s %q", case.name, tostring(result.status),
      tostring(result.message), case.status, case.message))
  else
    passed = passed + 1
    print(string.format("ok   %s -> %s", case.name, result.status))
  end
end

-- Every outcome Argo CD knows from this check must have been produced.
local seen = {}
for _, case in ipairs(cases) do
  seen[case.status] = true
end
for _, outcome in ipairs({ "Healthy", "Progressing", "Degraded", "Suspended" }) do
  if not seen[outcome] then
    failed = failed + 1
    print("FAIL no case covers " .. outcome)
  end
end

print(string.format("%d passed, %d failed", passed, failed))
os.exit(failed == 0 and 0 or 1)
