-- optim/SGD.lua — stochastic gradient descent with momentum, dampening, weight decay and
-- Nesterov momentum, exactly PyTorch's torch.optim.SGD:
--   g = grad + wd * p
--   buf = g (first step) | momentum * buf + (1 - dampening) * g
--   g = g + momentum * buf (nesterov) | buf
--   p = p - lr * g

local errors = require('gpubp.errors')
local Optimizer = require('gpubp.optim.Optimizer')
local gb = require('gpubp.class').gb

local SGD = Optimizer:extend('SGD')

-- SGD(params, {lr=1e-3, momentum=0, dampening=0, weight_decay=0, nesterov=false, maximize=false})
function SGD:init(params, opts)
  Optimizer.init(self, params, {
    lr = 1e-3, momentum = 0, dampening = 0, weight_decay = 0, nesterov = false, maximize = false,
  }, opts)
end

function SGD:validate()
  for _, g in ipairs(self.param_groups) do
    Optimizer.check_range('SGD', 'lr', g.lr, 0)
    Optimizer.check_unit('SGD', 'momentum', g.momentum)
    Optimizer.check_unit('SGD', 'dampening', g.dampening, true)
    Optimizer.check_range('SGD', 'weight_decay', g.weight_decay, 0)
    if g.nesterov and (g.momentum <= 0 or g.dampening ~= 0) then
      errors.raise('SGD: nesterov momentum requires a momentum > 0 and zero dampening')
    end
  end
end

-- The core's fused row (one pass over p, g and the buffer) when it applies; it computes
-- the same float32 expressions in PyTorch's order. Returns false when it cannot be used.
local function fused(self, p, g, state, group)
  if group.maximize or not gb._sgd_step or self:unfusable(p) then return false end
  local momentum = group.momentum
  local first = momentum ~= 0 and state.momentum_buffer == nil
  local buf = momentum ~= 0 and (state.momentum_buffer or gb.zeros_like(p)) or g
  local ok = self:try_fused(p, gb._sgd_step, p, g, buf, group.lr, momentum, group.dampening,
    group.weight_decay, group.nesterov, first)
  if ok and momentum ~= 0 then state.momentum_buffer = buf end
  return ok
end

function SGD:update(p, g, state, group)
  if fused(self, p, g, state, group) then return end
  if group.maximize then g = -g end
  if group.weight_decay ~= 0 then g = g + p * group.weight_decay end
  local momentum = group.momentum
  if momentum ~= 0 then
    local buf = state.momentum_buffer
    if not buf then
      buf = g:detach():clone()
      state.momentum_buffer = buf
    else
      buf:mul_(momentum)
      buf:add_(group.dampening == 0 and g or g * (1 - group.dampening))
    end
    if group.nesterov then g = g + buf * momentum else g = buf end
  end
  p:sub_(g * group.lr)
end

return SGD
