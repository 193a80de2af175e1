-- nn/Parameter.lua — marks a tensor as a trainable parameter. Tensors are userdata, so the
-- mark lives in a weak-keyed set: `Parameter(t)` returns a leaf that requires grad and
-- `Parameter.is(t)` says whether a tensor was marked. Assigning a marked tensor to a
-- Module field registers it as that module's parameter.

local errors = require('gpubp.errors')
local gb = require('gpubp.class').gb

local Parameter = {}
local marked = setmetatable({}, { __mode = 'k' })

-- Returns a leaf tensor sharing `t`'s storage, with requires_grad set, marked as parameter.
function Parameter.new(t, requires_grad)
  if not gb.is_tensor(t) then
    errors.raise('nn.Parameter: expected a tensor, got ' .. type(t))
  end
  if marked[t] then return t end
  if not t.is_leaf then t = t:detach() end
  if requires_grad == nil then requires_grad = true end
  t:requires_grad_(requires_grad)
  marked[t] = true
  return t
end

-- True when `t` is a tensor marked by Parameter.new.
function Parameter.is(t)
  return marked[t] == true
end

return setmetatable(Parameter, {
  __call = function(_, t, requires_grad) return Parameter.new(t, requires_grad) end,
})
