-- nn/DistributedDataParallel.lua — wraps a model for data-parallel training over
-- gb.distributed: copies rank 1's parameters and buffers to every rank, then averages the
-- gradients of each backward across ranks, in buckets of about bucket_mb whose all-reduce
-- starts (non-blocking) as soon as their last gradient is final, so communication overlaps
-- the rest of backward. Each parameter's .grad is a view into its bucket (PyTorch's
-- gradient_as_bucket_view): the hooks accumulate straight into the bucket and the averaged
-- result needs no copy back. With broadcast_buffers (the default, as PyTorch) every forward
-- under grad mode starts from rank 1's buffers.
local errors = require('gpubp.errors')
local options = require('gpubp.options')
local Module = require('gpubp.nn.Module')
local gb = require('gpubp.class').gb

local DDP = Module:extend('DistributedDataParallel')

-- States of live DDP instances, for the one callback run after every backward.
local live = setmetatable({}, { __mode = 'k' })
local installed = false

local function dist() return gb.distributed end

local finish

local function install_callback()
  if installed then return end
  installed = true
  local list = gb._post_backward()
  list[#list + 1] = function()
    for st in pairs(live) do
      if st.active then finish(st) end
    end
  end
end

-- Buckets in reverse registration order (backward meets the last layers first), each up
-- to bucket_mb (at least one parameter) of one dtype, on one flat buffer per bucket.
local function make_buckets(params, bucket_mb)
  local bytes = bucket_mb * 1024 * 1024
  local buckets, cur = {}, nil
  for i = #params, 1, -1 do
    local p = params[i]
    local n = p:numel()
    local limit = bytes / (p.dtype == 'float64' and 8 or 4)
    if not cur or cur.dtype ~= p.dtype or (cur.numel > 0 and cur.numel + n > limit) then
      cur = { params = {}, numel = 0, dtype = p.dtype }
      buckets[#buckets + 1] = cur
    end
    cur.params[#cur.params + 1] = p
    cur.numel = cur.numel + n
  end
  for _, b in ipairs(buckets) do
    local dev = b.params[1].device
    b.flat = gb.zeros({ math.max(b.numel, 1) }, { device = dev, dtype = b.dtype })
    b.views, b.ready = {}, {}
    local off = 1
    for k, p in ipairs(b.params) do
      if p.device ~= dev then
        errors.raisef('DistributedDataParallel: parameters on %s and %s: put the model on one device',
          dev, p.device)
      end
      local n = p:numel()
      b.views[k] = b.flat:narrow(1, off, n):view(p.shape)
      off = off + n
    end
    b.nready = 0
  end
  return buckets
end

-- Launches the buckets that are complete, in order (every rank starts them in the same
-- order, as the collectives' sequence numbers require).
local function launch_ready(st)
  local b = st.buckets[st.next]
  while b and b.nready == #b.params do
    b.handle = dist()._all_reduce_async(b.flat, 'mean', true) -- layout checked at construction
    st.next = st.next + 1
    b = st.buckets[st.next]
  end
end

-- Makes p.grad the bucket view v holding g (this backward's gradient) plus what p.grad held
-- (nil after zero_grad; the view itself; or a tensor the user or a no_sync step assigned).
local set_grad_view, grad_is
local function accumulate(p, v, g)
  if grad_is(p, v) then
    v:add_(g)
  else
    local old = p.grad
    v:copy_(g)
    if old then v:add_(old) end
    set_grad_view(p, v)
  end
end

-- After backward: parameters that got no gradient this time (unused in this forward) still
-- join their bucket, with what their .grad holds (zero when nil); then wait, in launch
-- order. The averages are already in place: every .grad is a view into its bucket.
finish = function(st)
  st.active = false
  gb.no_grad(function()
    for i = st.next, #st.buckets do
      local b = st.buckets[i]
      for k, p in ipairs(b.params) do
        if not b.ready[k] then
          local v = b.views[k]
          if not grad_is(p, v) then
            if p.grad then v:copy_(p.grad) else v:zero_() end
            set_grad_view(p, v)
          end
          b.ready[k] = true
          b.nready = b.nready + 1
        end
      end
    end
    launch_ready(st)
    for _, b in ipairs(st.buckets) do
      dist()._wait(b.handle)
      b.handle = nil
      for k = 1, #b.params do b.ready[k] = false end
      b.nready = 0
    end
  end)
  st.next = 1
end

-- The gradient hook of parameter k of bucket b: its gradient for this backward (g) is
-- final here. It is added into the bucket view that is p.grad (under no_sync too, so the
-- local accumulation lands in the bucket), and the tape is told it was taken; outside
-- no_sync a complete bucket starts its all-reduce.
local function hook(st, b, k, p)
  local taken = gb._grad_taken
  return function(g)
    accumulate(p, b.views[k], g) -- backward runs with grad mode off
    if st.no_sync then return taken end
    st.active = true
    if not b.ready[k] then
      b.ready[k] = true
      b.nready = b.nready + 1
    end
    launch_ready(st)
    dist()._progress()
    return taken
  end
end

-- The buckets' all-reduces skip the per-collective header exchange (it would make every
-- bucket wait for the slowest rank's hook), so the ranks check here, once, that they built
-- the same buckets: counts and sizes, gathered from every rank.
local function check_layout(buckets)
  local sizes = { #buckets }
  for _, b in ipairs(buckets) do sizes[#sizes + 1] = b.numel end
  local n = gb.tensor({ #sizes }, { dtype = 'int64' })
  local all_n = dist().all_gather(n)
  local mine = table.concat(sizes, ',')
  for r = 1, #all_n do
    if all_n[r]:item() ~= #sizes then
      errors.raisef('DistributedDataParallel: rank %d has %d buckets, rank %d has %d: every rank '
        .. 'must wrap the same model', r, all_n[r]:item() - 1, dist().rank(), #buckets)
    end
  end
  local all = dist().all_gather(gb.tensor(sizes, { dtype = 'int64' }))
  for r = 1, #all do
    local theirs = table.concat(all[r]:totable(), ',')
    if theirs ~= mine then
      errors.raisef('DistributedDataParallel: the ranks built different gradient buckets (rank %d: '
        .. '%s parameters, rank %d: %s): every rank must wrap the same model', r, theirs,
        dist().rank(), mine)
    end
  end
end

-- The buffers by dtype, each group packed in one flat tensor for one broadcast.
local function buffer_groups(model)
  local groups, order = {}, {}
  for _, t in ipairs(model:buffers()) do
    local g = groups[t.dtype .. '@' .. t.device]
    if not g then
      g = { list = {}, numel = 0, dtype = t.dtype, device = t.device }
      groups[t.dtype .. '@' .. t.device] = g
      order[#order + 1] = g
    end
    g.list[#g.list + 1] = t
    g.numel = g.numel + t:numel()
  end
  for _, g in ipairs(order) do
    g.flat = gb.zeros({ math.max(g.numel, 1) }, { dtype = g.dtype, device = g.device })
  end
  return order
end

-- Every rank's buffers become rank 1's (one broadcast per dtype).
local function broadcast_buffers(groups)
  gb.no_grad(function()
    for _, g in ipairs(groups) do
      local off = 1
      if dist().rank() == 1 then
        for _, t in ipairs(g.list) do
          local n = t:numel()
          g.flat:narrow(1, off, n):copy_(t:reshape({ n }))
          off = off + n
        end
      end
      dist().broadcast(g.flat, 1)
      off = 1
      for _, t in ipairs(g.list) do
        local n = t:numel()
        t:copy_(g.flat:narrow(1, off, n):view(t.shape))
        off = off + n
      end
    end
  end)
end

-- DistributedDataParallel(model [, {bucket_mb=25, broadcast_buffers=true}])
function DDP:init(model, opts)
  if not Module.is_module(model) then
    errors.raise('DistributedDataParallel: expected a Module, got ' .. type(model))
  end
  opts = options.check('DistributedDataParallel', opts,
    { bucket_mb = 25, broadcast_buffers = true })
  if not (opts.bucket_mb > 0) then
    errors.raisef('DistributedDataParallel: bucket_mb must be > 0, got %s', tostring(opts.bucket_mb))
  end
  if not dist().is_initialized() then
    errors.raise('DistributedDataParallel: call gb.distributed.init() first')
  end
  self.module = model
  local params = {}
  for _, p in ipairs(model:parameters()) do
    if p.requires_grad then params[#params + 1] = p end
  end
  -- every rank starts from rank 1's parameters and buffers
  gb.no_grad(function()
    for _, p in ipairs(model:parameters()) do dist().broadcast(p, 1) end
    for _, t in ipairs(model:buffers()) do dist().broadcast(t, 1) end
  end)
  local st = { buckets = make_buckets(params, opts.bucket_mb), next = 1, active = false,
    no_sync = false }
  check_layout(st.buckets)
  set_grad_view, grad_is = gb._dist.set_grad_view, gb._dist.grad_is
  if opts.broadcast_buffers then
    local groups = buffer_groups(model)
    if #groups > 0 then st.buffers = groups end
  end
  rawset(self, '_ddp', st)
  rawset(self, 'bucket_mb', opts.bucket_mb)
  rawset(self, 'broadcast_buffers', opts.broadcast_buffers and true or false)
  for _, b in ipairs(st.buckets) do
    for k, p in ipairs(b.params) do p:register_hook(hook(st, b, k, p)) end
  end
  live[st] = true
  install_callback()
end

-- With broadcast_buffers, a forward under grad mode first makes the buffers rank 1's (so
-- every rank must call it; one under gb.no_grad, such as an evaluation on rank 1 alone,
-- does not synchronise).
function DDP:forward(...)
  local st = rawget(self, '_ddp')
  if st.buffers and gb.is_grad_enabled() then broadcast_buffers(st.buffers) end
  return self.module(...)
end

-- ddp:no_sync(fn, ...): runs fn with gradient averaging off, so backward calls inside it
-- only accumulate into .grad locally; the next backward outside averages the sum.
-- Returns fn's results.
function DDP:no_sync(fn, ...)
  if type(fn) ~= 'function' then
    errors.raise('DistributedDataParallel:no_sync: expected a function, got ' .. type(fn))
  end
  local st = rawget(self, '_ddp')
  local was = st.no_sync
  st.no_sync = true
  local res = table.pack(pcall(fn, ...))
  st.no_sync = was
  if not res[1] then error(res[2], 0) end
  return table.unpack(res, 2, res.n)
end

-- The number of gradient buckets (in the order their all-reduces start).
function DDP:num_buckets()
  return #rawget(self, '_ddp').buckets
end

function DDP:extra_repr()
  return string.format('bucket_mb=%s, buckets=%d, broadcast_buffers=%s',
    tostring(rawget(self, 'bucket_mb')), #rawget(self, '_ddp').buckets,
    tostring(rawget(self, 'broadcast_buffers')))
end

return DDP
