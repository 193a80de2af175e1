-- nn/utils.lua — nn.utils: gradient clipping.

local errors = require('gpubp.errors')
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
-- norm_type: 2 (default) or math.huge.
function utils.clip_grad_norm(params, max_norm, norm_type)
  if type(max_norm) ~= 'number' then
    errors.raise('nn.utils.clip_grad_norm: expected a number max_norm, got ' .. type(max_norm))
  end
  norm_type = norm_type or 2
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
        local s = (g:abs() ^ norm_type):sum()
        acc = acc and acc + s:to(acc.device) or s
      end
      total = acc:item() ^ (1 / norm_type)
    end
    local coef = max_norm / (total + 1e-6)
    if coef < 1 then
      for _, g in ipairs(grads) do g:mul_(coef) end
    end
  end)
  return total
end

utils.clip_grad_norm_ = utils.clip_grad_norm

return utils
