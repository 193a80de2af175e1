-- autograd_check.lua — gradcheck: compares the tape's gradients with central finite
-- differences. gpubp's init.lua exposes it as gb.autograd.gradcheck.

local errors = require('gpubp.errors')
local gb = require('gpubp.class').gb

local M = {}

local function flatten(v, out)
  out = out or {}
  if type(v) == 'table' then
    for _, e in ipairs(v) do flatten(e, out) end
  else
    out[#out + 1] = v
  end
  return out
end

-- Fixed, non-trivial weights for projecting the output onto a scalar (not drawn from gb's
-- generator, so gradcheck leaves the user's random stream alone).
local function projection(out)
  local n, w = out:numel(), {}
  for i = 1, n do w[i] = 0.5 + ((i * 7919) % 101) / 101 end
  local dt = out.dtype == 'float64' and 'float64' or 'float32'
  local t = gb.tensor(w, { dtype = dt }):reshape(out.shape)
  if t.device ~= out.device then t = t:to(out.device) end
  return t
end

-- The defaults by the dtype of the checked inputs. float64 (every checked input): the step of
-- torch.autograd.gradcheck and tolerances 100x tighter than its (central differences in double
-- are good to ~1e-9 relative here), so a gradient wrong by 1e-4 relative fails. float32 (any
-- checked input float32): a step and tolerances float32 can resolve, which catch a wrong
-- formula but not a small error (PyTorch warns instead; convert with :double() to check).
local DEFAULTS = {
  float64 = { eps = 1e-6, atol = 1e-8, rtol = 1e-5 },
  float32 = { eps = 1e-3, atol = 1e-3, rtol = 1e-2 },
}

-- gradcheck(fn, inputs, {eps=, atol=, rtol=}) (defaults above)
-- fn(table.unpack(inputs)) must return a float tensor; inputs are tensors (and other values
-- passed through). Every input with requires_grad is checked element by element: the
-- gradient of sum(fn(...) * w) for fixed weights w against (f(x+eps) - f(x-eps)) / 2eps.
-- Returns true, or false and a message naming the input, the element and both values.
function M.gradcheck(fn, inputs, opts)
  if type(fn) ~= 'function' and not (type(fn) == 'table' and getmetatable(fn)
     and getmetatable(fn).__call) then
    errors.raise('gradcheck: expected a function, got ' .. type(fn))
  end
  if gb.is_tensor(inputs) then inputs = { inputs } end
  if type(inputs) ~= 'table' then
    errors.raise('gradcheck: expected a table of input tensors, got ' .. type(inputs))
  end
  opts = opts or {}
  local n = #inputs
  local checked, all_double = {}, true
  for i = 1, n do
    local x = inputs[i]
    if gb.is_tensor(x) and x.requires_grad then
      if not x.is_leaf then
        errors.raise('gradcheck: input ' .. i .. ' requires grad but is not a leaf')
      end
      checked[#checked + 1] = i
      all_double = all_double and x.dtype == 'float64'
    end
  end
  if #checked == 0 then
    errors.raise('gradcheck: no input requires grad')
  end
  local d = DEFAULTS[all_double and 'float64' or 'float32']
  local eps, atol, rtol = opts.eps or d.eps, opts.atol or d.atol, opts.rtol or d.rtol
  local digits = all_double and '%.12g' or '%.6g'
  -- analytic
  for _, i in ipairs(checked) do inputs[i].grad = nil end
  local out = gb.enable_grad(function() return fn(table.unpack(inputs, 1, n)) end)
  if not gb.is_tensor(out) then
    errors.raise('gradcheck: fn must return a tensor, got ' .. type(out))
  end
  local w = projection(out)
  gb.enable_grad(function() (out * w):sum():backward() end)
  local analytic = {}
  for _, i in ipairs(checked) do
    local g = inputs[i].grad
    analytic[i] = g and flatten(g:totable()) or false
    inputs[i].grad = nil
  end
  -- numeric
  local function objective()
    local o = fn(table.unpack(inputs, 1, n))
    return (o * w):sum():item()
  end
  local ok, msg = true, nil
  gb.no_grad(function()
    for _, i in ipairs(checked) do
      local x = inputs[i]
      local okv, flat = pcall(x.view, x, -1)
      if not okv then
        ok, msg = false, 'gradcheck: input ' .. i .. ' must be contiguous (' .. tostring(flat) .. ')'
        return
      end
      local values = flatten(x:totable())
      for j = 1, #values do
        local elem = flat:narrow(1, j, 1)
        elem:fill_(values[j] + eps)
        local fp = objective()
        elem:fill_(values[j] - eps)
        local fm = objective()
        elem:fill_(values[j])
        local num = (fp - fm) / (2 * eps)
        local ana = analytic[i] and analytic[i][j] or 0
        if math.abs(ana - num) > atol + rtol * math.abs(num) then
          ok = false
          msg = string.format('gradcheck: input %d, element %d: analytic ' .. digits .. ' vs numeric '
            .. digits .. ' (atol %g, rtol %g)', i, j, ana, num, atol, rtol)
          return
        end
      end
    end
  end)
  if ok then return true end
  return false, msg
end

return M
