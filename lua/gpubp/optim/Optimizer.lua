-- optim/Optimizer.lua — base class of the optimizers: parameter groups with their
-- hyper-parameters (schedulers edit group.lr), per-parameter state, zero_grad and
-- state_dict/load_state_dict in PyTorch's layout. Subclasses implement update(p, g, state, group).

local class = require('gpubp.class')
local errors = require('gpubp.errors')
local options = require('gpubp.options')
local gb = class.gb

local Optimizer = class.Object:extend('Optimizer')

local function is_module(x)
  return type(x) == 'table' and type(x.parameters) == 'function' and not gb.is_tensor(x)
end

local function shape_str(t)
  local dims = {}
  for i, d in ipairs(t.shape) do dims[i] = tostring(d) end
  return '(' .. table.concat(dims, ',') .. ')'
end

-- params: a list of tensors, a Module, or a list of groups {params = {...}, lr = ...};
-- defaults: the hyper-parameters every group starts from.
function Optimizer:init(params, defaults, opts)
  local name = self.class_name(self)
  if is_module(params) then params = params:parameters() end
  if type(params) ~= 'table' then
    errors.raise(name .. ': expected a list of parameters (or a Module), got ' .. type(params))
  end
  local spec = { params = options.optional }
  for k, v in pairs(defaults) do spec[k] = v end
  opts = options.check(name, opts, spec)
  opts.params = nil
  local groups = params
  if #params == 0 or gb.is_tensor(params[1]) then groups = { { params = params } } end
  -- as PyTorch's optimizer.defaults: the class defaults overridden by the constructor's options
  -- (what a group that names none of them gets), not the class defaults alone
  local built = {}
  for k, v in pairs(defaults) do
    if opts[k] ~= nil then built[k] = opts[k] else built[k] = v end
  end
  self.param_groups, self.state, self.defaults = {}, {}, built
  local seen = {} -- tensor -> where it was first listed: a parameter listed twice is stepped twice
  for gi, g in ipairs(groups) do
    if type(g) ~= 'table' or gb.is_tensor(g) then
      errors.raise(string.format('%s: group %d is a %s, not a table {params = ...}', name, gi,
        gb.is_tensor(g) and 'tensor' or type(g)))
    end
    local group = { params = {} }
    local plist, names = g.params, {}
    if is_module(plist) then
      local named = plist:named_parameters()
      plist = {}
      for i, np in ipairs(named) do names[i], plist[i] = np[1], np[2] end
    end
    if plist ~= nil and type(plist) ~= 'table' then
      errors.raise(string.format('%s: group %d: params must be a list of tensors (or a Module), got %s',
        name, gi, gb.is_tensor(plist) and 'tensor' or type(plist)))
    end
    for i, p in ipairs(plist or {}) do
      if not gb.is_tensor(p) then
        errors.raise(string.format('%s: group %d, parameter %d is a %s, not a tensor', name, gi, i,
          type(p)))
      end
      local here = names[i] and string.format("parameter %d ('%s') of group %d", i, names[i], gi)
        or string.format('parameter %d of group %d', i, gi)
      if seen[p] then
        errors.raise(string.format('%s: %s, a %s %s tensor, is listed twice (it is also %s); '
          .. 'each parameter may appear once, in one group', name, here,
          shape_str(p), p.dtype, seen[p]))
      end
      seen[p] = here
      group.params[i] = p
    end
    for k, v in pairs(defaults) do
      local val = g[k]
      if val == nil then val = opts[k] end
      if val == nil then val = v end
      if type(val) ~= type(v) or (type(val) == 'table' and gb.is_tensor(val)) then
        errors.raise(string.format("%s: group %d: option '%s' expects a %s, got %s", name, gi, k,
          type(v), gb.is_tensor(val) and 'tensor' or type(val)))
      end
      group[k] = val
    end
    self.param_groups[gi] = group
  end
  if #self.param_groups[1].params == 0 then
    errors.raise(name .. ': got an empty parameter list')
  end
  self:validate()
end

-- Subclasses check hyper-parameters here (raise with errors.raise(msg)).
function Optimizer:validate() end

-- Hyper-parameter checks, at the user's line. A NaN or an infinity is never a valid value.
-- check_range: a finite number >= lo ("SGD: lr must be a number >= 0, got -1").
local function check_range(name, k, v, lo)
  if type(v) ~= 'number' or v ~= v or v < lo or v == math.huge then
    errors.raise(string.format('%s: %s must be a number >= %g, got %s', name, k, lo, tostring(v)))
  end
end
Optimizer.check_range = check_range

-- check_unit: a number in [0, 1) (momentum, betas), or [0, 1] with closed.
function Optimizer.check_unit(name, k, v, closed)
  if type(v) ~= 'number' or v ~= v or v < 0 or v > 1 or (v == 1 and not closed) then
    errors.raise(string.format('%s: %s must be a number in [0, 1%s, got %s', name, k,
      closed and ']' or ')', tostring(v)))
  end
end

-- One update of every parameter that has a gradient, under no_grad.
function Optimizer:step(closure)
  local loss
  if closure then loss = gb.enable_grad(closure) end
  local graph = package.loaded['gpubp.graph']
  local recording = graph and graph.recording()
  gb.no_grad(function()
    for _, group in ipairs(self.param_groups) do
      for _, p in ipairs(group.params) do
        local g = p.grad
        if g then
          local st = self.state[p]
          if not st then st = {}; self.state[p] = st end
          local fused_before = recording and (recording.fused[self] or 0)
          self:update(p, g, st, group)
          if recording and (recording.fused[self] or 0) == fused_before then
            graph.note_unfused(self)
          end
        end
      end
    end
  end)
  if recording then graph.note_step(self) end -- how gb.graph carries this step to replays
  return loss
end

-- Fused update rows of the core (gb._sgd_step, gb._adam_step) need float32 or float64 (on
-- the cpu), contiguous tensors shaped like the parameter. The first refusal for a parameter (checked before
-- anything is written) sends it to the op-by-op path from then on.
function Optimizer:unfusable(p)
  local nf = rawget(self, '_unfusable')
  return nf ~= nil and nf[p] == true
end

function Optimizer:try_fused(p, fn, ...)
  if p.dtype ~= 'float32' and p.dtype ~= 'float64' then
    self._unfusable = self._unfusable or setmetatable({}, { __mode = 'k' })
    self._unfusable[p] = true
    return false
  end
  local ok, err = pcall(fn, ...)
  -- an interrupt or a spent budget (gpubp_interrupt, gpubp_set_budget) is not a reason to
  -- fall back to the unfused step: it must reach the script
  if not ok and type(err) == 'string' and (err:find('interrupted$') or err:find('budget of', 1, true)) then
    error(err, 0)
  end
  local graph = package.loaded['gpubp.graph']
  if graph and graph.patching then
    if not ok then error(err, 0) end -- a replay's patch failed: gb.graph records anew
  elseif not ok then
    self._unfusable = self._unfusable or setmetatable({}, { __mode = 'k' })
    self._unfusable[p] = true
  elseif graph then
    graph.note_fused(self)
  end
  return ok
end

-- Drops every gradient (PyTorch's set_to_none=True, the default since PyTorch 2.0):
-- the next backward writes fresh gradients and no memory is spent on zeros.
function Optimizer:zero_grad()
  for _, group in ipairs(self.param_groups) do
    for _, p in ipairs(group.params) do p.grad = nil end
  end
end

local function copy_value(v)
  if gb.is_tensor(v) then return v:clone() end
  if type(v) == 'table' then
    local t = {}
    for k, x in pairs(v) do t[k] = copy_value(x) end
    return t
  end
  return v
end

-- {state = {[i] = {step=, exp_avg=, ...}}, param_groups = {{lr=, ..., params = {i, ...}}}}
-- with parameters numbered 1.. across groups in order, like PyTorch's. Tensors are cloned.
function Optimizer:state_dict()
  local sd = { state = {}, param_groups = {} }
  local index = 0
  for gi, group in ipairs(self.param_groups) do
    local g = { params = {} }
    for k, v in pairs(group) do
      if k ~= 'params' then g[k] = copy_value(v) end
    end
    for _, p in ipairs(group.params) do
      index = index + 1
      g.params[#g.params + 1] = index
      if self.state[p] then sd.state[index] = copy_value(self.state[p]) end
    end
    sd.param_groups[gi] = g
  end
  return sd
end

function Optimizer:load_state_dict(sd)
  local name = self.class_name(self)
  if type(sd) ~= 'table' or type(sd.param_groups) ~= 'table' then
    errors.raise(name .. ':load_state_dict: expected a table with param_groups and state')
  end
  if #sd.param_groups ~= #self.param_groups then
    errors.raise(string.format('%s:load_state_dict: the state has %d parameter groups, the optimizer %d',
      name, #sd.param_groups, #self.param_groups))
  end
  local by_index = {}
  for gi, group in ipairs(self.param_groups) do
    local saved = sd.param_groups[gi]
    if #saved.params ~= #group.params then
      errors.raise(string.format('%s:load_state_dict: group %d has %d parameters in the state, %d in the optimizer',
        name, gi, #saved.params, #group.params))
    end
    for i, p in ipairs(group.params) do by_index[saved.params[i]] = p end
  end
  local state = {}
  for idx, st in pairs(sd.state or {}) do
    local p = by_index[tonumber(idx)]
    if not p then
      errors.raise(name .. ':load_state_dict: state for unknown parameter ' .. tostring(idx))
    end
    local s = {}
    for k, v in pairs(st) do
      if gb.is_tensor(v) then
        if v:numel() == p:numel() and #v.shape ~= #p.shape then v = v:reshape(p.shape) end
        s[k] = v:to(p.device):clone()
      else
        s[k] = copy_value(v)
      end
    end
    state[p] = s
  end
  for gi, group in ipairs(self.param_groups) do
    for k, v in pairs(sd.param_groups[gi]) do
      if k ~= 'params' then group[k] = copy_value(v) end
    end
  end
  self.state = state
end

-- Numbers <-> int64 tensors holding their 64 bits (a float's IEEE-754 bits, or an
-- integer's two's complement) as two 32-bit halves, each exact whatever path gb.tensor
-- takes, so that gb.save (tensors only) keeps lr, betas, step counts... bit-exactly.
local function bits_tensor(packed)
  local lo, hi = string.unpack('<I4I4', packed)
  return gb.tensor({ hi, lo }, { dtype = 'int64' })
end

local function tensor_bits(t)
  local v = t:totable()
  return string.pack('<I4I4', math.tointeger(v[2]), math.tointeger(v[1]))
end

-- Flattens a nested table of tensors, numbers and booleans into string keys joined by
-- '.' (a float becomes a key ending in '#num', an integer '#int', a boolean '#bool', an
-- empty table '#empty'), ready for gb.save.
function Optimizer.flatten_state_dict(sd, prefix, out)
  out, prefix = out or {}, prefix or ''
  for k, v in pairs(sd) do
    local key = prefix .. tostring(k)
    if gb.is_tensor(v) then
      out[key] = v
    elseif math.type(v) == 'integer' then
      out[key .. '#int'] = bits_tensor(string.pack('<i8', v))
    elseif type(v) == 'number' then
      out[key .. '#num'] = bits_tensor(string.pack('<d', v))
    elseif type(v) == 'boolean' then
      out[key .. '#bool'] = gb.tensor({ v and 1 or 0 }, { dtype = 'int64' })
    elseif type(v) == 'table' then
      if next(v) == nil then
        out[key .. '#empty'] = gb.tensor({ 0 }, { dtype = 'int64' })
      else
        Optimizer.flatten_state_dict(v, key .. '.', out)
      end
    else
      errors.raise('Optimizer.flatten_state_dict: cannot store a ' .. type(v) .. ' at ' .. key)
    end
  end
  return out
end

-- Inverse of flatten_state_dict; keys made of digits become integer indices again.
-- Only keys starting with `prefix` (default: all) are read, with the prefix removed.
function Optimizer.unflatten_state_dict(flat, prefix)
  prefix = prefix or ''
  local root = {}
  for key, v in pairs(flat) do
    if key:sub(1, #prefix) == prefix then
      local rest, kind = key:sub(#prefix + 1):match('^(.-)#(%a+)$')
      rest = rest or key:sub(#prefix + 1)
      local node, parts = root, {}
      for part in rest:gmatch('[^.]+') do
        parts[#parts + 1] = part:match('^%d+$') and tonumber(part) or part
      end
      for i = 1, #parts - 1 do
        node[parts[i]] = node[parts[i]] or {}
        node = node[parts[i]]
      end
      local last = parts[#parts]
      if kind == 'num' then node[last] = (string.unpack('<d', tensor_bits(v)))
      elseif kind == 'int' then node[last] = (string.unpack('<i8', tensor_bits(v)))
      elseif kind == 'bool' then node[last] = v:totable()[1] ~= 0
      elseif kind == 'empty' then node[last] = node[last] or {}
      else node[last] = v end
    end
  end
  return root
end

return Optimizer
