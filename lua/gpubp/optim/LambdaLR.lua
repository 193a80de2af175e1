-- optim/LambdaLR.lua — lr = base_lr * lr_lambda(epoch), one function for all groups or one
-- per group, as PyTorch's LambdaLR. The functions are not part of state_dict.

local LRScheduler = require('gpubp.optim.LRScheduler')
local check = require('gpubp.utils.check')

local LambdaLR = LRScheduler:extend('LambdaLR')

local function callable(f)
  if type(f) == 'function' then return true end
  local mt = getmetatable(f)
  return type(mt) == 'table' and mt.__call ~= nil
end

-- LambdaLR(optimizer, lr_lambda) or (optimizer, {lr_lambda=}); lr_lambda: a function of
-- the epoch (0, 1, ...) returning a factor, or a list of them, one per parameter group.
function LambdaLR:init(optimizer, ...)
  local a = LRScheduler._read_args('LambdaLR', { { 'lr_lambda', check.NONE } }, ...)
  local fns = a.lr_lambda
  local ngroups = type(optimizer) == 'table' and type(optimizer.param_groups) == 'table'
    and #optimizer.param_groups or 0
  if callable(fns) then
    local f = fns
    fns = {}
    for i = 1, math.max(ngroups, 1) do fns[i] = f end
  elseif type(fns) == 'table' then
    if #fns ~= ngroups then
      check.raise(string.format('LambdaLR: expected %d lr_lambda functions (one per group), got %d',
        ngroups, #fns))
    end
    for i, f in ipairs(fns) do
      if not callable(f) then
        check.raise(string.format('LambdaLR: lr_lambda %d is a %s, not a function', i, type(f)))
      end
    end
  else
    check.raise('LambdaLR: lr_lambda must be a function or a list of functions, got ' .. type(fns))
  end
  rawset(self, '_lambdas', fns)
  LRScheduler.init(self, optimizer)
end

-- The lambdas live in one field that state_dict leaves out (functions cannot be saved).
function LambdaLR:state_dict()
  local sd = LRScheduler.state_dict(self)
  sd._lambdas = nil
  return sd
end

function LambdaLR:get_lr(base, epoch, i)
  local f = self._lambdas[i] or self._lambdas[1]
  local v = f(epoch)
  if type(v) ~= 'number' then
    check.raise(string.format('LambdaLR: lr_lambda(%d) returned a %s, not a number', epoch, type(v)))
  end
  return base * v
end

return LambdaLR
