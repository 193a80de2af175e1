-- optim/Adam.lua — Adam (Kingma & Ba) as PyTorch's torch.optim.Adam, with L2 weight decay
-- added to the gradient and the optional AMSGrad variant:
--   g = grad + wd * p;  m = b1 m + (1-b1) g;  v = b2 v + (1-b2) g^2
--   vhat = max(vhat, v) (amsgrad) | v
--   p = p - lr / (1 - b1^t) * m / (sqrt(vhat) / sqrt(1 - b2^t) + eps)
-- AdamW reuses update() with decoupled weight decay.

local errors = require('gpubp.errors')
local Optimizer = require('gpubp.optim.Optimizer')
local gb = require('gpubp.class').gb

local Adam = Optimizer:extend('Adam')

local function defaults(wd)
  return { lr = 1e-3, betas = { 0.9, 0.999 }, eps = 1e-8, weight_decay = wd, amsgrad = false,
           maximize = false }
end
Adam.make_defaults = defaults

-- Adam(params, {lr=1e-3, betas={0.9, 0.999}, eps=1e-8, weight_decay=0, amsgrad=false})
function Adam:init(params, opts)
  Optimizer.init(self, params, defaults(0), opts)
end

function Adam:validate()
  local name = self.class_name(self)
  for _, g in ipairs(self.param_groups) do
    Optimizer.check_range(name, 'lr', g.lr, 0)
    Optimizer.check_range(name, 'eps', g.eps, 0)
    Optimizer.check_range(name, 'weight_decay', g.weight_decay, 0)
    local b = g.betas
    if type(b) ~= 'table' or #b ~= 2 then
      errors.raise(name .. ': betas must be a table of two numbers in [0, 1)')
    end
    Optimizer.check_unit(name, 'betas[1]', b[1])
    Optimizer.check_unit(name, 'betas[2]', b[2])
  end
end

-- The moment updates and the step; `decay` is the L2 term added to the gradient (Adam),
-- `decoupled` the AdamW decay already applied to p by the caller on the unfused path.
-- Uses the core's fused row (same float32 expressions, PyTorch's order) when it applies.
function Adam:adam_update(p, g, state, group, decay, decoupled)
  local b1, b2 = group.betas[1], group.betas[2]
  if not state.step then
    state.step = 0
    state.exp_avg = gb.zeros_like(p)
    state.exp_avg_sq = gb.zeros_like(p)
    if group.amsgrad then state.max_exp_avg_sq = gb.zeros_like(p) end
  end
  if not group.amsgrad and not group.maximize and gb._adam_step and not self:unfusable(p)
     and self:try_fused(p, gb._adam_step, p, g, state.exp_avg, state.exp_avg_sq, group.lr, b1,
       b2, group.eps, decoupled and group.weight_decay or decay, state.step + 1, decoupled) then
    state.step = state.step + 1
    return
  end
  if decoupled and group.weight_decay ~= 0 then p:mul_(1 - group.lr * group.weight_decay) end
  if group.maximize then g = -g end
  if decay ~= 0 then g = g + p * decay end
  state.step = state.step + 1
  local m, v = state.exp_avg, state.exp_avg_sq
  m:mul_(b1)
  m:add_(g * (1 - b1))
  v:mul_(b2)
  v:add_(g * g * (1 - b2))
  local bc1 = 1 - b1 ^ state.step
  local bc2_sqrt = math.sqrt(1 - b2 ^ state.step)
  local vhat = v
  if group.amsgrad then
    local mx = state.max_exp_avg_sq or gb.zeros_like(p)
    state.max_exp_avg_sq = mx
    mx:copy_(gb.where(v:gt(mx), v, mx))
    vhat = mx
  end
  local denom = vhat:sqrt() / bc2_sqrt + group.eps
  p:sub_(m / denom * (group.lr / bc1))
end

function Adam:update(p, g, state, group)
  self:adam_update(p, g, state, group, group.weight_decay, false)
end

return Adam
