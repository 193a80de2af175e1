-- optim/RMSprop.lua — RMSprop as PyTorch's torch.optim.RMSprop:
--   g = grad + wd * p;  sq = alpha sq + (1-alpha) g^2
--   avg = sqrt(sq - ga^2) with ga = alpha ga + (1-alpha) g (centered) | sqrt(sq);  avg += eps
--   buf = momentum buf + g / avg; p -= lr * buf (momentum > 0) | p -= lr * g / avg

local Optimizer = require('gpubp.optim.Optimizer')
local gb = require('gpubp.class').gb

local RMSprop = Optimizer:extend('RMSprop')

-- RMSprop(params, {lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0, momentum=0, centered=false})
function RMSprop:init(params, opts)
  Optimizer.init(self, params, {
    lr = 1e-2, alpha = 0.99, eps = 1e-8, weight_decay = 0, momentum = 0, centered = false,
    maximize = false,
  }, opts)
end

function RMSprop:validate()
  for _, g in ipairs(self.param_groups) do
    Optimizer.check_range('RMSprop', 'lr', g.lr, 0)
    Optimizer.check_unit('RMSprop', 'alpha', g.alpha, true)
    Optimizer.check_range('RMSprop', 'eps', g.eps, 0)
    Optimizer.check_unit('RMSprop', 'momentum', g.momentum)
    Optimizer.check_range('RMSprop', 'weight_decay', g.weight_decay, 0)
  end
end

function RMSprop:update(p, g, state, group)
  local alpha = group.alpha
  if group.maximize then g = -g end
  if not state.step then
    state.step = 0
    state.square_avg = gb.zeros_like(p)
    if group.momentum > 0 then state.momentum_buffer = gb.zeros_like(p) end
    if group.centered then state.grad_avg = gb.zeros_like(p) end
  end
  state.step = state.step + 1
  if group.weight_decay ~= 0 then g = g + p * group.weight_decay end
  local sq = state.square_avg
  sq:mul_(alpha)
  sq:add_(g * g * (1 - alpha))
  local avg
  if group.centered then
    local ga = state.grad_avg or gb.zeros_like(p)
    state.grad_avg = ga
    ga:mul_(alpha)
    ga:add_(g * (1 - alpha))
    avg = (sq - ga * ga):sqrt() + group.eps
  else
    avg = sq:sqrt() + group.eps
  end
  if group.momentum > 0 then
    local buf = state.momentum_buffer or gb.zeros_like(p)
    state.momentum_buffer = buf
    buf:mul_(group.momentum)
    buf:add_(g / avg)
    p:sub_(buf * group.lr)
  else
    p:sub_(g / avg * group.lr)
  end
end

return RMSprop
