-- Argo CD health of a modelship object: ModelDeployment, DriftMonitor or RetrainPolicy.
-- It reads what kstatus reads (observedGeneration, the Stalled condition, Ready), plus the
-- phase for two states kstatus has no word for: a rollout waiting for a person (Suspended,
-- as Argo CD shows a paused Argo Rollout) and a revision short of pods or failing its
-- analysis with automatic rollback off (Degraded).
local hs = {}
local status = obj.status
if status == nil or status.conditions == nil then
  hs.status = "Progressing"
  hs.message = "Waiting for the modelship operator"
  return hs
end
local generation = obj.metadata.generation
if generation ~= nil and (status.observedGeneration == nil or status.observedGeneration < generation) then
  hs.status = "Progressing"
  hs.message = "Waiting for the modelship operator to observe generation " .. generation
  return hs
end
local holds = {}
for _, condition in ipairs(status.conditions) do
  holds[condition.type] = condition.status == "True"
end
local phase = status.phase or ""
hs.message = phase
if status.message ~= nil and status.message ~= "" then
  hs.message = phase .. ": " .. status.message
end
if holds["Stalled"] then
  hs.status = "Degraded"
elseif phase == "Paused" then
  hs.status = "Suspended"
elseif phase == "Degraded" then
  hs.status = "Degraded"
elseif holds["Ready"] then
  hs.status = "Healthy"
else
  hs.status = "Progressing"
end
return hs
