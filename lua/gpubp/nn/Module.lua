-- nn/Module.lua — base class of every layer and model. Submodules, parameters and buffers
-- assigned to a module's fields are registered (in assignment order) by __newindex, which is
-- how `self.fc1 = nn.Linear(784, 128)` inside `Net:init` makes fc1 part of the model.

local errors = require('gpubp.errors')
local class = require('gpubp.class')
local Parameter = require('gpubp.nn.Parameter')
local gb = class.gb

local Module = class.Object:extend('Module')

-- Registries live in raw fields so that registered names never exist raw on the instance,
-- which keeps __newindex firing for every assignment to them.
local function registries(self)
  return rawget(self, '_parameters'), rawget(self, '_modules'), rawget(self, '_buffers')
end

-- Ordered map: { names = {...}, map = {name = value} }.
local function omap() return { names = {}, map = {} } end

local function omap_set(m, k, v)
  if v == nil then
    if m.map[k] ~= nil then
      m.map[k] = nil
      for i, n in ipairs(m.names) do
        if n == k then table.remove(m.names, i) break end
      end
    end
    return
  end
  if m.map[k] == nil then m.names[#m.names + 1] = k end
  m.map[k] = v
end

function Module.new(cls, ...)
  local self = {
    _parameters = omap(), _modules = omap(), _buffers = omap(), training = true,
  }
  setmetatable(self, cls)
  self:init(...)
  return self
end

function Module:init() end

function Module.__index(self, k)
  local params, mods, bufs = registries(self)
  if params then
    local v = params.map[k]
    if v ~= nil then return v end
    v = mods.map[k]
    if v ~= nil then return v end
    v = bufs.map[k]
    if v ~= nil then return v end
  end
  return getmetatable(self)[k]
end

local function is_module(v)
  return type(v) == 'table' and Module.is_instance(v, Module)
end
Module.is_module = is_module

function Module.__newindex(self, k, v)
  local params, mods, bufs = registries(self)
  if is_module(v) then
    omap_set(params, k, nil); omap_set(bufs, k, nil)
    omap_set(mods, k, v)
  elseif v ~= nil and gb.is_tensor(v) and (Parameter.is(v) or params.map[k] ~= nil) then
    omap_set(mods, k, nil); omap_set(bufs, k, nil)
    omap_set(params, k, Parameter(v))
  elseif v ~= nil and gb.is_tensor(v) and bufs.map[k] ~= nil then
    omap_set(bufs, k, v)
  elseif v == nil and (params.map[k] ~= nil or mods.map[k] ~= nil or bufs.map[k] ~= nil) then
    omap_set(params, k, nil); omap_set(mods, k, nil); omap_set(bufs, k, nil)
  else
    if params.map[k] ~= nil or mods.map[k] ~= nil or bufs.map[k] ~= nil then
      errors.raise(string.format("%s: cannot assign a %s to '%s', which holds a %s",
        Module.class_name(self), type(v), tostring(k),
        params.map[k] and 'parameter' or mods.map[k] and 'submodule' or 'buffer'))
    end
    rawset(self, k, v)
  end
end

local call_with_hooks

-- A module without hooks pays two rawgets per call.
function Module:__call(...)
  if rawget(self, '_forward_hooks') == nil and rawget(self, '_backward_hooks') == nil then
    return self:forward(...)
  end
  return call_with_hooks(self, ...)
end

-- Once every hook of a kind is removed the field goes, and calls take the fast path again.
local function hook_handle(self, field, fn)
  local list = rawget(self, field) or {}
  rawset(self, field, list)
  list[#list + 1] = fn
  local idx = #list
  return {
    remove = function()
      list[idx] = false
      for _, f in ipairs(list) do if f then return end end
      if rawget(self, field) == list then rawset(self, field, nil) end
    end,
  }
end

-- module:register_forward_hook(fn): fn(module, inputs, output) after every forward; a
-- non-nil return replaces the output. Returns a handle with :remove().
function Module:register_forward_hook(fn)
  if type(fn) ~= 'function' then
    errors.raise(Module.class_name(self) .. ':register_forward_hook: expected a function, got ' .. type(fn))
  end
  return hook_handle(self, '_forward_hooks', fn)
end

-- module:register_full_backward_hook(fn): fn(module, grad_input, grad_output) inside
-- backward once the gradients with respect to the module's tensor inputs are known
-- (grad_input is {} when no input needs grad; then it runs when grad_output is known).
-- With one tensor input, a returned {tensor} replaces grad_input[1]. Returns a handle.
function Module:register_full_backward_hook(fn)
  if type(fn) ~= 'function' then
    errors.raise(Module.class_name(self) .. ':register_full_backward_hook: expected a function, got '
          .. type(fn))
  end
  return hook_handle(self, '_backward_hooks', fn)
end

local function live(list)
  if not list then return nil end
  for _, f in ipairs(list) do if f then return list end end
  return nil
end

-- Backward hooks: each tensor input needing grad passes through an identity view whose
-- gradient is grad_input; tensor hooks on the outputs collect grad_output first.
local function wire_backward(self, hooks, args, n)
  local grad_out, grad_in, inputs = {}, {}, {}
  local pending = 0
  for i = 1, n do
    local a = args[i]
    if gb.is_tensor(a) and a.requires_grad and gb.is_grad_enabled() then
      local v = a:view_as(a)
      args[i] = v
      inputs[#inputs + 1] = v
    end
  end
  local function fire()
    local replaced
    for _, f in ipairs(hooks) do
      if f then
        local r = f(self, grad_in, grad_out)
        if r ~= nil then replaced = r end
      end
    end
    return replaced
  end
  for k, v in ipairs(inputs) do
    v:register_hook(function(g)
      grad_in[k] = g
      pending = pending - 1
      if pending == 0 then
        local r = fire()
        if r and #inputs == 1 then return r[1] end
      end
    end)
  end
  return function(outs)
    local touts = {}
    for i = 1, outs.n do
      if gb.is_tensor(outs[i]) and outs[i].requires_grad then touts[#touts + 1] = outs[i] end
    end
    pending = #inputs
    local remaining = #touts
    for k, o in ipairs(touts) do
      o:register_hook(function(g)
        grad_out[k] = g
        remaining = remaining - 1
        if remaining == 0 and #inputs == 0 then fire() end
      end)
    end
  end
end

call_with_hooks = function(self, ...)
  local fh, bh = live(rawget(self, '_forward_hooks')), live(rawget(self, '_backward_hooks'))
  local args = table.pack(...)
  local after
  if bh then after = wire_backward(self, bh, args, args.n) end
  local outs = table.pack(self:forward(table.unpack(args, 1, args.n)))
  if fh then
    for _, f in ipairs(fh) do
      if f then
        local r = f(self, args, outs.n == 1 and outs[1] or outs)
        if r ~= nil then outs = table.pack(r) end
      end
    end
  end
  if after then after(outs) end
  return table.unpack(outs, 1, outs.n)
end

function Module:forward()
  errors.raise(Module.class_name(self) .. ': forward is not implemented')
end

-- Explicit registration, for names computed at run time.
function Module:add_module(name, m)
  if not is_module(m) then
    errors.raise(Module.class_name(self) .. ':add_module: expected a Module for '
          .. tostring(name) .. ', got ' .. type(m))
  end
  self[name] = m
  return m
end

function Module:register_parameter(name, t)
  if t == nil then
    local params = registries(self)
    omap_set(params, name, nil)
    return nil
  end
  self[name] = Parameter(t)
  return self[name]
end

-- A buffer is state saved in state_dict but not trained (BatchNorm's running stats).
function Module:register_buffer(name, t)
  if t ~= nil and not gb.is_tensor(t) then
    errors.raise(Module.class_name(self) .. ':register_buffer: expected a tensor for '
          .. tostring(name) .. ', got ' .. type(t))
  end
  local params, mods, bufs = registries(self)
  omap_set(params, name, nil); omap_set(mods, name, nil)
  omap_set(bufs, name, t)
  return t
end

-- Iterators return arrays (not closures) so callers can # and index them.
function Module:named_children()
  local _, mods = registries(self)
  local out = {}
  for _, n in ipairs(mods.names) do out[#out + 1] = { n, mods.map[n] } end
  return out
end

function Module:children()
  local out = {}
  for _, nc in ipairs(self:named_children()) do out[#out + 1] = nc[2] end
  return out
end

-- Every module in the tree, depth first, self first (prefix '' for self).
function Module:named_modules(prefix, out, seen)
  out, seen, prefix = out or {}, seen or {}, prefix or ''
  if seen[self] then return out end
  seen[self] = true
  out[#out + 1] = { prefix, self }
  for _, nc in ipairs(self:named_children()) do
    local p = prefix == '' and nc[1] or prefix .. '.' .. nc[1]
    nc[2]:named_modules(p, out, seen)
  end
  return out
end

function Module:modules()
  local out = {}
  for _, nm in ipairs(self:named_modules()) do out[#out + 1] = nm[2] end
  return out
end

-- { {name, tensor}, ... } over the tree in registration order; shared tensors appear once.
local function named_tensors(self, which)
  local out, seen = {}, {}
  for _, nm in ipairs(self:named_modules()) do
    local reg = rawget(nm[2], which)
    for _, n in ipairs(reg.names) do
      local t = reg.map[n]
      if not seen[t] then
        seen[t] = true
        out[#out + 1] = { nm[1] == '' and n or nm[1] .. '.' .. n, t }
      end
    end
  end
  return out
end

function Module:named_parameters() return named_tensors(self, '_parameters') end
function Module:named_buffers() return named_tensors(self, '_buffers') end

function Module:parameters()
  local out = {}
  for _, np in ipairs(self:named_parameters()) do out[#out + 1] = np[2] end
  return out
end

function Module:buffers()
  local out = {}
  for _, nb in ipairs(self:named_buffers()) do out[#out + 1] = nb[2] end
  return out
end

-- Total number of trainable scalars.
function Module:num_parameters()
  local n = 0
  for _, p in ipairs(self:parameters()) do n = n + p:numel() end
  return n
end

function Module:apply(fn)
  for _, m in ipairs(self:modules()) do fn(m) end
  return self
end

function Module:train(mode)
  if mode == nil then mode = true end
  for _, m in ipairs(self:modules()) do rawset(m, 'training', mode and true or false) end
  return self
end

function Module:eval()
  return self:train(false)
end

local FLOAT_DTYPES = { float32 = 'float32', float = 'float32', float64 = 'float64',
  double = 'float64' }

-- Moves parameters and buffers to `device`, or with a float dtype name ('float64', 'double',
-- 'float32', 'float') converts the float ones to it (integer buffers stay, as PyTorch's
-- module.double()). Parameters are replaced by moved copies, so build optimizers after
-- calling to(), as in PyTorch.
function Module:to(device)
  local dtype = FLOAT_DTYPES[device]
  local moved = {} -- a tensor shared by several modules stays shared
  local function move(t, is_param)
    if dtype and (t.dtype == dtype or (t.dtype ~= 'float32' and t.dtype ~= 'float64')) then
      return t
    end
    if not dtype and t.device == device then return t end
    if not moved[t] then
      if is_param then
        local q = gb.no_grad(function() return t:to(device):detach() end)
        moved[t] = Parameter(q, t.requires_grad)
      else
        moved[t] = t:to(device)
      end
    end
    return moved[t]
  end
  for _, m in ipairs(self:modules()) do
    local params, _, bufs = registries(m)
    for _, n in ipairs(params.names) do params.map[n] = move(params.map[n], true) end
    for _, n in ipairs(bufs.names) do bufs.map[n] = move(bufs.map[n], false) end
  end
  return self
end

function Module:cuda(index)
  return self:to(index and ('cuda:' .. index) or 'cuda')
end

function Module:cpu()
  return self:to('cpu')
end

function Module:double()
  return self:to('float64')
end

function Module:float()
  return self:to('float32')
end

-- Drops every parameter's gradient (PyTorch's set_to_none=True behaviour).
function Module:zero_grad()
  for _, p in ipairs(self:parameters()) do p.grad = nil end
end

-- Flat table "dotted.name" -> tensor (parameters detached, sharing storage; buffers), one
-- value as PyTorch's, so gb.save(path, net:state_dict()) works (named_parameters gives order).
function Module:state_dict()
  local sd = {}
  for _, np in ipairs(named_tensors(self, '_parameters')) do sd[np[1]] = np[2]:detach() end
  for _, nb in ipairs(named_tensors(self, '_buffers')) do sd[nb[1]] = nb[2] end
  return sd
end

local function shape_str(t)
  return '(' .. table.concat(t.shape, ',') .. ')'
end

local CASTS = { float32 = 'float', float64 = 'double', int64 = 'long', int32 = 'int' }

local function cast(t, dtype)
  local m = CASTS[dtype]
  if not m then errors.raise('load_state_dict: cannot convert to dtype ' .. tostring(dtype)) end
  return t[m](t)
end

local function same_shape(a, b)
  local sa, sb = a.shape, b.shape
  if #sa ~= #sb then return false end
  for i = 1, #sa do if sa[i] ~= sb[i] then return false end end
  return true
end

-- Copies the tensors of `sd` into this module's parameters and buffers. strict (default
-- true): every key must match; the error lists missing keys, unexpected keys and shape
-- mismatches. Returns {missing = {...}, unexpected = {...}} when strict is false.
function Module:load_state_dict(sd, strict)
  if type(sd) ~= 'table' then
    errors.raise(Module.class_name(self) .. ':load_state_dict: expected a table of tensors, got '
          .. type(sd))
  end
  if strict == nil then strict = true end
  local own = {}
  for _, np in ipairs(named_tensors(self, '_parameters')) do own[#own + 1] = np end
  for _, nb in ipairs(named_tensors(self, '_buffers')) do own[#own + 1] = nb end
  local missing, unexpected, mismatched, known = {}, {}, {}, {}
  for _, nt in ipairs(own) do
    local name, t = nt[1], nt[2]
    known[name] = true
    local src = sd[name]
    if src == nil then
      missing[#missing + 1] = name
    elseif not gb.is_tensor(src) then
      mismatched[#mismatched + 1] = string.format('%s: expected a tensor, got %s', name, type(src))
    elseif not same_shape(src, t) then
      mismatched[#mismatched + 1] = string.format('%s: checkpoint has shape %s, model has %s',
        name, shape_str(src), shape_str(t))
    end
  end
  for k in pairs(sd) do
    if not known[k] then unexpected[#unexpected + 1] = tostring(k) end
  end
  table.sort(unexpected)
  local problems = {}
  if #mismatched > 0 then
    problems[#problems + 1] = 'size mismatch for ' .. table.concat(mismatched, '; ')
  end
  if strict and #missing > 0 then
    problems[#problems + 1] = 'missing keys: ' .. table.concat(missing, ', ')
  end
  if strict and #unexpected > 0 then
    problems[#problems + 1] = 'unexpected keys: ' .. table.concat(unexpected, ', ')
  end
  if #problems > 0 then
    errors.raise(Module.class_name(self) .. ':load_state_dict: ' .. table.concat(problems, '; '))
  end
  gb.no_grad(function()
    for _, nt in ipairs(own) do
      local src = sd[nt[1]]
      if src ~= nil then
        if src.device ~= nt[2].device then src = src:to(nt[2].device) end
        if src.dtype ~= nt[2].dtype then src = cast(src, nt[2].dtype) end
        nt[2]:copy_(src)
      end
    end
  end)
  return { missing = missing, unexpected = unexpected }
end

-- One-line description inside the parentheses; layers override it.
function Module:extra_repr()
  return ''
end

function Module:__tostring()
  local name = Module.class_name(self)
  local kids = self:named_children()
  local extra = self:extra_repr()
  if #kids == 0 then return name .. '(' .. extra .. ')' end
  local lines = { name .. '(' }
  if extra ~= '' then lines[#lines + 1] = '  ' .. extra end
  for _, nc in ipairs(kids) do
    local s = tostring(nc[2]):gsub('\n', '\n  ')
    lines[#lines + 1] = '  (' .. nc[1] .. '): ' .. s
  end
  lines[#lines + 1] = ')'
  return table.concat(lines, '\n')
end

return Module
