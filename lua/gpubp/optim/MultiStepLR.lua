-- optim/MultiStepLR.lua — lr = base_lr * gamma ^ (number of milestones <= epoch), as
-- PyTorch's MultiStepLR (a milestone listed twice counts twice).

local LRScheduler = require('gpubp.optim.LRScheduler')
local check = require('gpubp.utils.check')
local options = require('gpubp.options')

local MultiStepLR = LRScheduler:extend('MultiStepLR')

-- MultiStepLR(optimizer, milestones, gamma=0.1) or (optimizer, {milestones=, gamma=0.1})
function MultiStepLR:init(optimizer, ...)
  local a = LRScheduler._read_args('MultiStepLR',
    { { 'milestones', check.NONE, 'list' }, { 'gamma', 0.1 } }, ...)
  if type(a.milestones) ~= 'table' then
    check.raise('MultiStepLR: milestones must be a list of integers, got ' .. type(a.milestones))
  end
  local ms = {}
  for i, m in ipairs(a.milestones) do
    ms[i] = options.tointeger(m)
    if ms[i] == nil then
      check.raise(string.format('MultiStepLR: milestone %d is %s, not an integer', i, tostring(m)))
    end
  end
  table.sort(ms)
  self.milestones = ms
  self.gamma = LRScheduler._check_positive('MultiStepLR', 'gamma', a.gamma)
  LRScheduler.init(self, optimizer)
end

function MultiStepLR:get_lr(base, epoch)
  local k = 0
  for _, m in ipairs(self.milestones) do
    if m <= epoch then k = k + 1 end
  end
  return base * self.gamma ^ k
end

return MultiStepLR
