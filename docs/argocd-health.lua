-- Argo CD health check for schemaop.dev/SchemaMigration.
--
-- Install as `resource.customizations.health.schemaop.dev_SchemaMigration` in
-- the argocd-cm ConfigMap (docs/gitops.md). Argo CD runs it with the live
-- object as the global `obj` and reads the returned table's status/message.
--
-- Reads only what the controller publishes for kstatus (Ready, Reconciling,
-- Stalled and observedGeneration), so Argo CD and Flux agree:
--   Suspended    spec.suspend is true
--   Suspended    reason AwaitingApproval (spec.approval Manual): the plan in
--                status.plan waits for spec.approvedPlanHash; the message
--                says which hash and how to approve it
--   Progressing  no status yet, or status/conditions older than the spec
--   Degraded     Stalled=True: a terminal failure that needs a spec change
--   Healthy      Ready=True for the current generation (database at the
--                target revision, workloads restored)
--   Progressing  anything else (a run in progress, a retry with backoff)
hs = {}

local function find_condition(status, condition_type)
  if status == nil or status.conditions == nil then
    return nil
  end
  for _, condition in ipairs(status.conditions) do
    if condition.type == condition_type then
      return condition
    end
  end
  return nil
end

-- A condition without its own observedGeneration (the field is optional in
-- metav1.Condition) is as fresh as the status that carries it.
local function condition_is_current(condition, status, generation)
  local observed = condition.observedGeneration
  if observed == nil then
    observed = status.observedGeneration
  end
  return generation == nil or observed == generation
end

local function message_or(condition, fallback)
  if condition ~= nil and condition.message ~= nil and condition.message ~= "" then
    return condition.message
  end
  return fallback
end

local generation = nil
if obj.metadata ~= nil then
  generation = obj.metadata.generation
end
local status = obj.status

if obj.spec ~= nil and obj.spec.suspend == true then
  hs.status = "Suspended"
  hs.message = "spec.suspend is true: the controller starts no new run"
  return hs
end

if status == nil or status.observedGeneration == nil then
  hs.status = "Progressing"
  hs.message = "Waiting for controller"
  return hs
end

if generation ~= nil and status.observedGeneration ~= generation then
  hs.status = "Progressing"
  hs.message = "Waiting for controller to observe generation " .. tostring(generation)
  return hs
end

local awaiting = find_condition(status, "Reconciling")
if awaiting ~= nil and awaiting.status == "True" and awaiting.reason == "AwaitingApproval" and
    condition_is_current(awaiting, status, generation) then
  hs.status = "Suspended"
  hs.message = message_or(awaiting, "Waiting for approval of the plan (spec.approvedPlanHash)")
  return hs
end

local stalled = find_condition(status, "Stalled")
if stalled ~= nil and stalled.status == "True" and condition_is_current(stalled, status, generation) then
  hs.status = "Degraded"
  hs.message = message_or(stalled, stalled.reason or "Stalled")
  return hs
end

local ready = find_condition(status, "Ready")
if ready ~= nil and ready.status == "True" and condition_is_current(ready, status, generation) then
  hs.status = "Healthy"
  hs.message = message_or(ready, "At revision " .. tostring(status.currentRevision))
  return hs
end

local reconciling = find_condition(status, "Reconciling")
hs.status = "Progressing"
if reconciling ~= nil and reconciling.status == "True" then
  hs.message = message_or(reconciling, reconciling.reason or "Reconciling")
elseif ready ~= nil and ready.status ~= "True" then
  hs.message = message_or(ready, "Not ready")
else
  hs.message = "Waiting for controller"
end
return hs
