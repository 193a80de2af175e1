-- gpubp — the Lua face of the runtime. `require 'gpubp'` returns the C core (tensors, ops,
-- autograd: gpubp.core) extended with the Lua-side packages: nn, optim, data, autograd.
local errors = require('gpubp.errors')
local gb = require 'gpubp.core'
require('gpubp.tensor_methods')(gb)

gb.autograd = require('gpubp.lazy')({}, {
  gradcheck = function() return require('gpubp.autograd_check').gradcheck end,
  backward = 'gpubp.autograd_backward',
})

-- gb.cat(tensors, dim) / gb.stack(tensors, dim). Up to 4 pieces are one `cat` row (a copy
-- into one new tensor; its backward gives each piece a view of the gradient). More pieces
-- without autograd are copied straight into one tensor; with autograd they are joined as a
-- tree of cat rows, 4 at a time: log4(n) copies forward, views backward (no padded copies).
local function needs_grad(list)
  if not gb.is_grad_enabled() then return false end
  for _, t in ipairs(list) do if t.requires_grad then return true end end
  return false
end

-- the dtype the pieces are joined in: the widest of them, as torch.cat promotes
local rank = {int32 = 1, int64 = 2, float32 = 3, float64 = 4}
local function joined_dtype(list)
  local dt = list[1].dtype
  for _, t in ipairs(list) do
    if (rank[t.dtype] or 0) > (rank[dt] or 0) then dt = t.dtype end
  end
  return dt
end

local function cat_rows(list, d)
  while #list > 4 do
    local up = {}
    for i = 1, #list, 4 do up[#up + 1] = gb._cat(d, list[i], list[i + 1], list[i + 2], list[i + 3]) end
    list = up
  end
  return gb._cat(d, table.unpack(list))
end

-- The list as a plain array, read raw (next, rawget): a hole ({a, nil, b}) would end ipairs
-- early and drop b, so every index up to the largest one must hold a tensor; and a list's
-- __index, __len or __pairs (which could answer forever, or close a tensor) is not run.
local function plain_list(list, what)
  if type(list) ~= 'table' then errors.raise(what .. ': expected a non-empty list of tensors') end
  local n = 0
  for k in next, list do
    if math.type(k) == 'integer' and k > n then n = k end
  end
  if n == 0 then errors.raise(what .. ': expected a non-empty list of tensors') end
  local out = {}
  for i = 1, n do
    local t = rawget(list, i)
    if not gb.is_tensor(t) then
      errors.raise(('%s: element %d is not a tensor (got %s)'):format(what, i, type(t)))
    end
    out[i] = t
  end
  return out
end

function gb.cat(list, dim)
  list = plain_list(list, 'cat')
  dim = dim or 1
  local first = list[1]
  if not gb.is_tensor(first) then errors.raise('cat: element 1 is not a tensor') end
  local nd = first:dim()
  local d = dim < 0 and dim + nd + 1 or dim
  if d < 1 or d > nd then errors.raise(('cat: dimension %d out of range for a %d-D tensor'):format(dim, nd)) end
  local shape = first.shape
  local total = 0
  for i, t in ipairs(list) do
    if not gb.is_tensor(t) then errors.raise(('cat: element %d is not a tensor'):format(i)) end
    local s = t.shape
    if #s ~= nd then errors.raise(('cat: tensor %d has %d dimensions, expected %d'):format(i, #s, nd)) end
    if t.device ~= first.device then
      errors.raise(('cat: expected all tensors on one device, got %s (tensor 1) and %s (tensor %d)')
        :format(first.device, t.device, i))
    end
    for k = 1, nd do
      if k ~= d and s[k] ~= shape[k] then
        errors.raise(('cat: tensor %d has size %d in dimension %d, expected %d'):format(i, s[k], k, shape[k]))
      end
    end
    total = total + s[d]
  end
  local dt = joined_dtype(list)
  if #list <= 4 or needs_grad(list) then
    local same = {}
    for i, t in ipairs(list) do same[i] = t.dtype == dt and t or t:to(dt) end
    return cat_rows(same, d)
  end
  shape[d] = total
  local out = gb.empty(shape, {dtype = dt, device = first.device})
  local at = 1
  for _, t in ipairs(list) do
    local n = t:size(d)
    if n > 0 then out:narrow(d, at, n):copy_(t) end
    at = at + n
  end
  return out
end

function gb.stack(list, dim)
  list = plain_list(list, 'stack')
  dim = dim or 1
  local parts = {}
  for i, t in ipairs(list) do parts[i] = t:unsqueeze(dim < 0 and dim + t:dim() + 2 or dim) end
  return gb.cat(parts, dim < 0 and dim + list[1]:dim() + 2 or dim)
end

-- file formats: IDX (MNIST) reader and safetensors checkpoints (also gb.save / gb.load)
gb.io = {read_idx = gb.read_idx, save = gb.save, load = gb.load}

gb.nn = require 'gpubp.nn'
gb.optim = require 'gpubp.optim'
gb.data = require 'gpubp.data'
gb.utils = require 'gpubp.utils'
gb.distributed = require 'gpubp.distributed'
-- help(x): the entry of x in docs/api.md (the CLI also makes it the global `help`)
-- gb.graph: gpubp.graph is loaded on first use, so start-up does not parse it
do
  local function graph() return require('gpubp.graph') end
  gb.graph = setmetatable({
    recording = function(...) return graph().recording(...) end,
    on_replay = function(...) return graph().on_replay(...) end,
  }, {
    __call = function(_, fn, opts) return graph().new(gb, fn, opts) end,
  })
end
gb.help = function(x, opts) require('gpubp.help').help(x, opts) end

return gb
