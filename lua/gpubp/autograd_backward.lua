-- autograd_backward.lua — gb.autograd.backward(tensors [, grad_tensors [, opts]]): one
-- tensor, or a list of them with their gradients, as PyTorch's torch.autograd.backward. A
-- list runs one backward pass over sum_i <t_i, g_i>, so roots sharing a graph are fine.

local errors = require('gpubp.errors')
local options = require('gpubp.options')
local gb = require('gpubp.class').gb

local function describe(t)
  return '(' .. table.concat(t.shape, ',') .. ') ' .. t.dtype
end

-- backward(t [, grad [, opts]]) or backward({t1, t2, ...} [, {g1, g2, ...} [, opts]]);
-- a gradient may be nil (or absent) for a scalar root. opts: {retain_graph=false}.
return function(tensors, grads, opts)
  opts = options.check('autograd.backward', opts, { retain_graph = false })
  if gb.is_tensor(tensors) then
    if grads ~= nil and not gb.is_tensor(grads) then
      if type(grads) == 'table' and #grads == 1 then grads = grads[1]
      else
        errors.raise('autograd.backward: expected a tensor gradient for one tensor, got ' .. type(grads))
      end
    end
    return tensors:backward(grads, opts)
  end
  if type(tensors) ~= 'table' or #tensors == 0 then
    errors.raise('autograd.backward: expected a tensor or a non-empty list of tensors, got '
      .. type(tensors))
  end
  if grads ~= nil and (type(grads) ~= 'table' or gb.is_tensor(grads)) then
    errors.raise('autograd.backward: expected a list of gradients (one per tensor), got '
      .. (gb.is_tensor(grads) and 'a tensor' or type(grads)))
  end
  grads = grads or {}
  for i = 1, #tensors do
    local t, g = tensors[i], grads[i]
    if not gb.is_tensor(t) then
      errors.raisef('autograd.backward: element %d is a %s, not a tensor', i, type(t))
    end
    if not t.requires_grad then
      errors.raisef('autograd.backward: element %d does not require grad and has no grad_fn', i)
    end
    if g == nil and t:numel() ~= 1 then
      errors.raisef('autograd.backward: element %d has shape %s: a gradient can be implied only '
        .. 'for a scalar', i, describe(t))
    end
    if g ~= nil then
      if not gb.is_tensor(g) then
        errors.raisef('autograd.backward: gradient %d is a %s, not a tensor', i, type(g))
      end
      if g:numel() ~= t:numel() or g:dim() ~= t:dim() then
        errors.raisef('autograd.backward: gradient %d has shape %s, tensor %d has %s', i,
          describe(g), i, describe(t))
      end
    end
  end
  local total = gb.enable_grad(function()
    local acc
    for i = 1, #tensors do
      local t, g = tensors[i], grads[i]
      local term = g ~= nil and (t * g:detach()):sum() or t:sum()
      acc = acc and acc + term or term
    end
    return acc
  end)
  return total:backward(nil, opts)
end
