-- nn/utils.lua — nn.utils: gradient clipping (by norm, by value), gradient norms per
-- parameter, GradMonitor (nn/GradMonitor.lua) and summary (nn/summary.lua).

local errors = require('gpubp.errors')
local options = require('gpubp.options')
local gb = require('gpubp.class').gb

local utils = {}

local function param_list(params)
  if type(params) == 'table' and params.parameters and not gb.is_tensor(params) then
    return params:parameters()
  end
  if gb.is_tensor(params) then return { params } end
  return params
end

-- Scales the gradients of `params` (a list, a tensor or a Module) in place so that their
-- joint norm is at most max_norm. Returns the total norm before clipping, as a number.
-- clip_grad_norm(params, max_norm [, norm_type=2 [, error_if_nonfinite=false]]) or
-- clip_grad_norm(params, max_norm, {norm_type=, error_if_nonfinite=}); norm_type is any
-- p > 0 or math.huge. As PyTorch: a NaN or infinite total norm raises when
-- error_if_nonfinite, and otherwise scales every gradient by max_norm / (norm + 1e-6)
-- (so a NaN norm makes every gradient NaN, never silently leaves them as they were).
function utils.clip_grad_norm(params, max_norm, norm_type, error_if_nonfinite)
  if type(max_norm) ~= 'number' then
    errors.raise('nn.utils.clip_grad_norm: expected a number max_norm, got ' .. type(max_norm))
  end
  if type(norm_type) == 'table' then
    local o = options.check('nn.utils.clip_grad_norm', norm_type,
      { norm_type = 2, error_if_nonfinite = false })
    norm_type, error_if_nonfinite = o.norm_type, o.error_if_nonfinite
  end
  norm_type = norm_type or 2
  if type(norm_type) ~= 'number' or not (norm_type > 0) then
    errors.raise('nn.utils.clip_grad_norm: norm_type must be a number > 0 or math.huge, got '
      .. tostring(norm_type))
  end
  local grads = {}
  for _, p in ipairs(param_list(params)) do
    local g = p.grad
    if g then grads[#grads + 1] = g end
  end
  if #grads == 0 then return 0 end
  local total = 0
  gb.no_grad(function()
    if norm_type == math.huge then
      for _, g in ipairs(grads) do total = math.max(total, g:abs():max():item()) end
    else
      local acc
      for _, g in ipairs(grads) do
        -- g * g for the usual 2-norm: the same floats as |g| ^ 2 without libm's powf per element
        local s = norm_type == 2 and (g * g):sum() or (g:abs() ^ norm_type):sum()
        acc = acc and acc + s:to(acc.device) or s
      end
      total = acc:item() ^ (1 / norm_type)
    end
  end)
  if error_if_nonfinite and (total ~= total or total == math.huge) then
    errors.raise(string.format('nn.utils.clip_grad_norm: the total norm of order %g of the '
      .. 'gradients is %s, so it cannot be clipped; to scale the gradients by it anyway, '
      .. 'set error_if_nonfinite=false', norm_type, total ~= total and 'nan' or 'inf'))
  end
  gb.no_grad(function()
    local coef = max_norm / (total + 1e-6)
    if coef < 1 or coef ~= coef then
      for _, g in ipairs(grads) do g:mul_(coef) end
    end
  end)
  return total
end

utils.clip_grad_norm_ = utils.clip_grad_norm

-- Clamps every gradient of `params` (a list, a tensor or a Module) into [-clip_value,
-- clip_value] in place, as PyTorch's clip_grad_value_. NaN stays NaN.
function utils.clip_grad_value(params, clip_value)
  if type(clip_value) ~= 'number' or clip_value < 0 or clip_value ~= clip_value then
    errors.raise('nn.utils.clip_grad_value: expected a number clip_value >= 0, got '
          .. tostring(clip_value))
  end
  gb.no_grad(function()
    for _, p in ipairs(param_list(params)) do
      local g = p.grad
      if g then g:clamp_(-clip_value, clip_value) end
    end
  end)
end
utils.clip_grad_value_ = utils.clip_grad_value

-- {[name] = L2 norm of its gradient} over the named parameters of a Module (or a list of
-- tensors, named by position) that have a gradient; numbers (NaN/Inf kept as they are).
function utils.grad_norms(model, norm_type)
  norm_type = norm_type or 2
  local named
  if type(model) == 'table' and model.named_parameters and not gb.is_tensor(model) then
    named = model:named_parameters()
  elseif type(model) == 'table' then
    named = {}
    for i, p in ipairs(model) do named[i] = { tostring(i), p } end
  else
    errors.raise('nn.utils.grad_norms: expected a Module or a list of tensors, got ' .. type(model))
  end
  local out = {}
  gb.no_grad(function()
    for _, np in ipairs(named) do
      local g = np[2].grad
      if g then out[np[1]] = g:norm(norm_type):item() end
    end
  end)
  return out
end

utils.GradMonitor = require('gpubp.nn.GradMonitor')
utils.summary = require('gpubp.nn.summary')

return utils
