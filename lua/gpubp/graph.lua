-- graph.lua — gb.graph(fn [, opts]): a step (forward, backward, optimizer) recorded once and
-- replayed. For each signature of its arguments (tensor shapes, dtypes and devices; the
-- values of numbers, booleans and strings) the first `warmup` calls run eagerly, so that
-- lazily made state (optimizer moments, momentum buffers) exists; the next call runs eagerly
-- too and records every kernel call; later calls copy their tensors into the recording's
-- inputs and replay the kernels with no Lua, no dispatch and no allocation. What changes
-- between calls is carried over: generator offsets (dropout draws as eagerly), and the
-- optimizers' scalars (a scheduler's lr, Adam's step), which the optimizer computes again
-- before each replay. Lua values computed inside fn are fixed at recording time.

local errors = require('gpubp.errors')
local options = require('gpubp.options')
local is_tensor = require('gpubp.core').is_tensor

local graph = {}

local active = nil -- the recording being made: {rec=, checks=, patches=, fused=, ...}
graph.patching = false -- true while an optimizer step patches a recording

-- The recording being made, or nil (for code that must tell a replay what changes).
function graph.recording()
  return active
end

-- Registers check() to run before each replay of the recording being made: it returns false
-- when the recording no longer describes the step (it is then made again). Checks change
-- nothing; they run before the patches.
function graph.on_replay(check)
  if not active then errors.raise('graph.on_replay: no recording is being made') end
  if type(check) ~= 'function' then
    errors.raisef('graph.on_replay: expected a function, got %s', type(check))
  end
  active.checks[#active.checks + 1] = check
end

-- Optimizer bookkeeping (optim/Optimizer.lua calls these while a recording is made).
function graph.note_fused(opt)
  if active then active.fused[opt] = (active.fused[opt] or 0) + 1 end
end

function graph.note_unfused(opt)
  if active then active.unfused[opt] = true end
end

-- The per-parameter step counts, to undo a patch that failed half-way.
local function save_steps(opt)
  local saved = {}
  for p, st in pairs(opt.state) do saved[p] = st.step end
  return function()
    for p, step in pairs(saved) do opt.state[p].step = step end
  end
end

-- Called by Optimizer:step while a recording is made: how the step is carried to replays.
-- A fused optimizer runs its step again in patch mode before each replay (its fused rows
-- give the recorded calls this step's lr and step count instead of running); an op-by-op
-- one keeps Lua state a replay would not advance, so its step stays eager.
function graph.note_step(opt)
  if not active or active.optimizers[opt] then return end
  active.optimizers[opt] = true
  local ctx = active
  if ctx.unfused[opt] then
    -- its Lua code keeps state (step counts, bias corrections) a replay would not advance
    ctx.eager_reason = ('%s updates some parameters op by op (no fused row applies)'):format(
      opt.__name or 'the optimizer')
    return
  end
  local expected = ctx.fused[opt] or 0
  ctx.patches[#ctx.patches + 1] = function()
    local undo = save_steps(opt)
    graph.patching = true
    local ok, n = pcall(ctx.rec.patching, ctx.rec, function() opt:step() end)
    graph.patching = false
    if ok and n == expected then return undo end
    undo()
    return nil
  end
end

local function signature(n, args)
  local parts = {}
  for k = 1, n do
    local v = args[k]
    local t = type(v)
    if is_tensor(v) then
      parts[k] = 'T' .. v.dtype .. '@' .. v.device .. '(' .. table.concat(v.shape, ',') .. ')'
      if v.requires_grad then parts[k] = parts[k] .. 'g' end
    elseif t == 'number' or t == 'boolean' or t == 'string' or t == 'nil' then
      parts[k] = t:sub(1, 1) .. tostring(v)
    else
      errors.raisef('graph: argument %d is a %s; pass tensors, numbers, booleans or strings '
        .. '(a recording cannot see into tables or functions)', k, t)
    end
  end
  return table.concat(parts, ';')
end

local Step = {}
Step.__index = Step

function Step:reset()
  for _, entry in pairs(self._cache) do
    if entry.rec then entry.rec:release() end
  end
  self._cache, self._order, self.recordings = {}, {}, 0
end

local function drop(self, sig)
  local entry = self._cache[sig]
  if entry and entry.rec then
    entry.rec:release()
    self.recordings = self.recordings - 1
  end
  self._cache[sig] = nil
  for k, s in ipairs(self._order) do
    if s == sig then table.remove(self._order, k) break end
  end
end

local function check_results(n, results)
  for k = 1, n do
    local v = results[k]
    if v ~= nil and not is_tensor(v) then
      errors.raisef('graph: result %d of the step is a %s; return tensors (a replay computes '
        .. 'no Lua values)', k, type(v))
    end
  end
end

local function record(self, sig, entry, n, args)
  local gb = self._gb
  local inputs = {}
  gb.no_grad(function()
    for k = 1, n do
      local v = args[k]
      if gb.is_tensor(v) then
        local ph = v:detach():clone()
        if v.requires_grad then ph:requires_grad_() end
        inputs[k] = ph
      else
        inputs[k] = v
      end
    end
  end)
  local rec = gb._graph_new()
  active = { rec = rec, checks = {}, patches = {}, fused = {}, unfused = {}, optimizers = {} }
  local ctx = active
  local results = table.pack(pcall(rec.record, rec, self._fn, table.unpack(inputs, 1, n)))
  active = nil
  if not results[1] then
    rec:release()
    error(results[2], 0)
  end
  table.remove(results, 1)
  results.n = results.n - 1
  local ok, err = pcall(check_results, results.n, results)
  if not ok then
    rec:release()
    error(err, 0)
  end
  if ctx.eager_reason then -- this step cannot be replayed: it runs eagerly from now on
    rec:release()
    entry.eager = ctx.eager_reason
    return table.unpack(results, 1, results.n)
  end
  entry.rec, entry.inputs, entry.results = rec, inputs, results
  entry.checks, entry.patches = ctx.checks, ctx.patches
  self.recordings = self.recordings + 1
  while self.recordings > self._max do drop(self, self._order[1]) end
  return table.unpack(results, 1, results.n)
end

-- Replays the recording for this call; false (with nothing changed) when a check or a patch
-- finds that it no longer describes the step.
local function replay(self, entry, n, args)
  for _, check in ipairs(entry.checks) do
    if check() == false then return false end
  end
  local undos = {}
  for _, patch in ipairs(entry.patches) do
    local undo = patch()
    if not undo then
      for k = #undos, 1, -1 do undos[k]() end
      return false
    end
    undos[#undos + 1] = undo
  end
  local gb = self._gb
  gb.no_grad(function()
    for k = 1, n do
      if gb.is_tensor(args[k]) then entry.inputs[k]:copy_(args[k]) end
    end
  end)
  entry.rec:replay()
  return true
end

function Step:__call(...)
  local n, args = select('#', ...), { ... }
  local sig = signature(n, args)
  local entry = self._cache[sig]
  if not entry then
    entry = { warm = 0 }
    self._cache[sig] = entry
  end
  for k, s in ipairs(self._order) do
    if s == sig then table.remove(self._order, k) break end
  end
  self._order[#self._order + 1] = sig
  if entry.rec then
    if replay(self, entry, n, args) then return table.unpack(entry.results, 1, entry.results.n) end
    -- the step changed under the recording (an op-by-op optimizer's lr, say): record anew
    entry.rec:release()
    entry.rec = nil
    self.recordings = self.recordings - 1
  end
  if entry.eager then return self._fn(...) end
  if entry.warm < self._warmup then
    entry.warm = entry.warm + 1
    return self._fn(...)
  end
  return record(self, sig, entry, n, args)
end

-- Why calls with these arguments run eagerly instead of replaying, or nil when they replay
-- (or have not been recorded yet).
function Step:eager_reason(...)
  local entry = self._cache[signature(select('#', ...), { ... })]
  return entry and entry.eager
end

function Step:__tostring()
  return ('graph(%d recording%s)'):format(self.recordings, self.recordings == 1 and '' or 's')
end

-- gb.graph(fn, {warmup = 1, max_recordings = 8})
function graph.new(gb, fn, opts)
  if type(fn) ~= 'function' then errors.raisef('graph: expected a function, got %s', type(fn)) end
  local o = options.check('graph', opts, {
    warmup = options.opt(1, 'integer'), max_recordings = options.opt(8, 'integer'),
  })
  if o.warmup < 0 then errors.raisef('graph: warmup must be >= 0, got %d', o.warmup) end
  if o.max_recordings < 1 then
    errors.raisef('graph: max_recordings must be >= 1, got %d', o.max_recordings)
  end
  return setmetatable({
    _gb = gb, _fn = fn, _warmup = o.warmup, _max = o.max_recordings,
    _cache = {}, _order = {}, recordings = 0,
  }, Step)
end

return graph
