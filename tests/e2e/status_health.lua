-- What Flux (kstatus) and Argo CD (docs/argocd-health.lua) make of every
-- status the controller really published, recorded from a `kubectl get -w`
-- watch by tests/e2e/gitops_test.sh (one Lua table per line, see
-- the jsonpath `template` there).
--
-- kstatus, the generic rules of sigs.k8s.io/cli-utils pkg/kstatus/status
-- (what Flux's health checks use for a custom resource):
--   metadata.deletionTimestamp set                       -> Terminating
--   status.observedGeneration present and != generation  -> InProgress
--   condition Reconciling=True                           -> InProgress
--   condition Stalled=True                               -> Failed
--   otherwise                                            -> Current
--
-- Invariants checked on every recorded status (docs/gitops.md):
--   1. kstatus Current  => Ready=True for the current generation and phase
--      Succeeded: Flux never calls a migration done before it is.
--   2. Ready=True for the current generation => kstatus Current: Flux does
--      not wait for ever on a finished migration.
--   3. Argo CD Healthy <=> kstatus Current, Argo CD Degraded <=> kstatus
--      Failed (spec.suspend aside): both tools agree.
--   4. a phase of a run in progress (not Pending/Succeeded/Failed) is
--      InProgress for kstatus and Progressing for Argo CD (Suspended while
--      the plan waits for approval, reason AwaitingApproval).
-- Prints one line per distinct (phase, kstatus, Argo CD) seen, then the
-- kstatus of the last record of each object ("final NAME STATUS").
-- Usage: lua5.4 status_health.lua ARGOCD_HEALTH_LUA RECORDS_FILE
local health_path = assert(arg[1], "usage: status_health.lua ARGOCD_HEALTH_LUA RECORDS")
local records_path = assert(arg[2], "usage: status_health.lua ARGOCD_HEALTH_LUA RECORDS")

local function read(path)
  local file = assert(io.open(path, "r"))
  local text = file:read("a")
  file:close()
  return text
end
local health_source = read(health_path)

-- Field readers the recorded lines call: jsonpath prints a missing field as
-- an empty string, so "" means absent.
local readers = {
  S = function(text) if text == "" then return nil end return text end,
  N = function(text) return tonumber(text) end,
  B = function(text) return text == "true" end,
}
local records = {}
local line_number = 0
for line in read(records_path):gmatch("[^\n]+") do
  line_number = line_number + 1
  local chunk = assert(load("return " .. line, "=record " .. line_number, "t", readers))
  local object = chunk()
  local status = object.status
  local present = {}
  for _, c in ipairs(status.conditions) do
    if c.status ~= nil then  -- a condition the object does not have prints empty
      present[#present + 1] = c
    end
  end
  status.conditions = present
  if status.phase == nil and status.observedGeneration == nil and #status.conditions == 0 then
    object.status = nil  -- not written by the controller yet
  end
  records[#records + 1] = object
end

local function condition(object, condition_type)
  for _, c in ipairs((object.status or {}).conditions or {}) do
    if c.type == condition_type then
      return c
    end
  end
  return nil
end

local function kstatus(object)
  if object.metadata.deletionTimestamp ~= nil then
    return "Terminating"
  end
  local status = object.status or {}
  if status.observedGeneration ~= nil and status.observedGeneration ~= object.metadata.generation then
    return "InProgress"
  end
  for _, c in ipairs(status.conditions or {}) do
    if c.type == "Reconciling" and c.status == "True" then
      return "InProgress"
    end
    if c.type == "Stalled" and c.status == "True" then
      return "Failed"
    end
  end
  return "Current"
end

local function argocd(object)
  local env = setmetatable({ obj = object }, { __index = _G })
  return assert(load(health_source, "=argocd-health.lua", "t", env))()
end

local function ready_for_generation(object)
  local ready = condition(object, "Ready")
  if ready == nil or ready.status ~= "True" then
    return false
  end
  local observed = ready.observedGeneration or (object.status or {}).observedGeneration
  return observed == object.metadata.generation
end

local settled = { Pending = true, Succeeded = true, Failed = true }
local violations, seen, seen_order, final = 0, {}, {}, {}
for index, object in ipairs(records) do
  local k = kstatus(object)
  local a = argocd(object)
  local phase = (object.status or {}).phase or "-"
  local where = string.format("record %d (%s generation %s, phase %s)", index,
                              object.metadata.name, tostring(object.metadata.generation), phase)
  local function violation(text)
    violations = violations + 1
    print("VIOLATION " .. where .. ": " .. text .. "; Argo CD " .. a.status .. " \"" ..
          tostring(a.message) .. "\"")
  end
  -- An object the controller has not written a status to yet is Current for
  -- kstatus's generic rules (nothing says otherwise) and Progressing for
  -- Argo CD; docs/gitops.md says how Flux users cover that moment.
  local has_status = object.status ~= nil
  if has_status and k == "Current" and not (ready_for_generation(object) and phase == "Succeeded") then
    violation("kstatus Current without Ready=True for this generation and phase Succeeded")
  end
  if ready_for_generation(object) and k ~= "Current" and k ~= "Terminating" then
    violation("Ready=True for this generation but kstatus " .. k)
  end
  if has_status and not (object.spec or {}).suspend then
    if (k == "Current") ~= (a.status == "Healthy") then
      violation("kstatus " .. k .. " but Argo CD " .. a.status)
    end
    if (k == "Failed") ~= (a.status == "Degraded") then
      violation("kstatus " .. k .. " but Argo CD " .. a.status)
    end
  end
  -- A plan waiting for approval (design §9) is a run in progress that Argo CD
  -- shows as Suspended.
  local reconciling = condition(object, "Reconciling")
  local expected_argocd = (reconciling and reconciling.reason == "AwaitingApproval") and "Suspended"
                          or "Progressing"
  if not settled[phase] and phase ~= "-" and (k ~= "InProgress" or a.status ~= expected_argocd) then
    violation("a run in progress is kstatus " .. k .. " / Argo CD " .. a.status)
  end
  local key = phase .. " " .. k .. " " .. a.status
  if not seen[key] then
    seen[key] = true
    seen_order[#seen_order + 1] = key
  end
  final[object.metadata.name] = k
end
for _, key in ipairs(seen_order) do
  print("seen " .. key)
end
local names = {}
for name in pairs(final) do
  names[#names + 1] = name
end
table.sort(names)
for _, name in ipairs(names) do
  print("final " .. name .. " " .. final[name])
end
print(string.format("%d records, %d violations", #records, violations))
os.exit(violations == 0 and 0 or 1)
