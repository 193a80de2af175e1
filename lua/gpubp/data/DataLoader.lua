-- data/DataLoader.lua — batches of a tensor dataset ({x = (N, ...), y = (N)}, or any table
-- of equally long tensors listed in `fields`). `for x, y in loader() do` or
-- `for x, y in loader:iter() do`; #loader is the number of batches per epoch. Shuffling draws
-- a permutation from gpubp's generator, so epochs are reproducible under gb.manual_seed.

local errors = require('gpubp.errors')
local options = require('gpubp.options')
local class = require('gpubp.class')
local gb = class.gb

local DataLoader = class.Object:extend('DataLoader')

local SPEC = {
  batch_size = 1, shuffle = false, drop_last = false, device = options.optional,
  fields = options.opt(nil, 'table'), prefetch = true,
  -- distributed: each rank iterates its own shard (data/shard.lua); rank and world_size
  -- default to gb.distributed's, seed (with set_epoch's epoch) orders the shuffle
  distributed = false, rank = options.opt(nil, 'integer'), world_size = options.opt(nil, 'integer'),
  seed = 0,
}

-- DataLoader(dataset, {batch_size=1, shuffle=false, drop_last=false, device=nil, fields={'x','y'},
--                      prefetch=true})
function DataLoader:init(dataset, opts)
  if type(dataset) ~= 'table' then
    errors.raise('DataLoader: expected a dataset table with tensor fields x and y, got '
          .. type(dataset))
  end
  opts = options.check('DataLoader', opts, SPEC)
  local fields = opts.fields
  if not fields then
    fields = {}
    if dataset.x ~= nil then fields[#fields + 1] = 'x' end
    if dataset.y ~= nil then fields[#fields + 1] = 'y' end
  end
  if #fields == 0 then
    errors.raise('DataLoader: the dataset has no tensor fields x/y (pass opts.fields to name others)')
  end
  local n
  for _, f in ipairs(fields) do
    local t = dataset[f]
    if not gb.is_tensor(t) then
      errors.raise("DataLoader: dataset field '" .. f .. "' is a " .. type(t) .. ', expected a tensor')
    end
    if t:dim() < 1 then
      errors.raise("DataLoader: dataset field '" .. f .. "' is a scalar tensor")
    end
    if n and t:size(1) ~= n then
      errors.raise(string.format("DataLoader: dataset fields have different lengths (%s: %d, %s: %d)",
        fields[1], n, f, t:size(1)))
    end
    n = t:size(1)
  end
  local bs = options.integer_at_least(opts.batch_size, 1)
  if not bs then
    errors.raise('DataLoader: batch_size must be a positive integer, got ' .. tostring(opts.batch_size))
  end
  self.dataset, self.fields, self.n = dataset, fields, n
  self.batch_size = bs
  self.shuffle = opts.shuffle and true or false
  self.drop_last = opts.drop_last and true or false
  self.device = opts.device
  self.prefetch = opts.prefetch and true or false
  self.epoch = 0
  -- a plain loader is shard 1 of 1
  self.distributed, self.rank, self.world_size, self.seed, self.n_shard = false, 1, 1, opts.seed, n
  if opts.distributed then self:_init_shard(opts) end
end

-- Whose shard and how big: from gb.distributed unless rank/world_size are given.
function DataLoader:_init_shard(opts)
  local world, rank = opts.world_size, opts.rank
  if world == nil or rank == nil then
    local d = gb.distributed
    if not d.is_initialized() then
      errors.raise('DataLoader: distributed=true needs gb.distributed.init() first (or rank= '
        .. 'and world_size=)')
    end
    world, rank = world or d.world_size(), rank or d.rank()
  end
  if world < 1 or rank < 1 or rank > world then
    errors.raise(string.format('DataLoader: rank %d is not in 1..%d (world_size)', rank, world))
  end
  local seed = options.tointeger(opts.seed)
  if seed == nil then
    errors.raise('DataLoader: seed must be an integer, got ' .. tostring(opts.seed))
  end
  self.distributed, self.rank, self.world_size, self.seed = true, rank, world, seed
  self.n_shard = self.drop_last and self.n // world or (self.n + world - 1) // world
end

-- set_epoch(e): the epoch whose order the next iteration uses (a distributed shuffle is
-- seed + e on every rank; call it before each epoch, or every epoch repeats the first).
function DataLoader:set_epoch(e)
  local epoch = options.tointeger(e)
  if epoch == nil then
    errors.raise('DataLoader:set_epoch: expected an integer epoch, got ' .. tostring(e))
  end
  self.epoch = epoch
end

-- Number of batches in one epoch.
function DataLoader:__len()
  local n = self.distributed and self.n_shard or self.n
  if self.drop_last then return n // self.batch_size end
  return (n + self.batch_size - 1) // self.batch_size
end

-- A random permutation of 1..n as an int64 tensor, from gpubp's generator.
local function permutation(n)
  if gb.randperm then return gb.randperm(n, { dtype = 'int64' }) end
  local keys = gb.rand(n):totable()
  local idx = {}
  for i = 1, n do idx[i] = i end
  table.sort(idx, function(a, b)
    if keys[a] ~= keys[b] then return keys[a] < keys[b] end
    return a < b
  end)
  return gb.tensor(idx, { dtype = 'int64' })
end
DataLoader.permutation = permutation

-- Shuffled batches of cpu fields are gathered one batch ahead on the CPU pool's first worker
-- (gb._gather_rows: the copy of batch b+1 runs while batch b trains); other fields, and all
-- with prefetch=false, are gathered when asked for with index_select.
local function prefetchable(t)
  return gb._can_gather_rows(t)
end

-- Returns an iterator over the epoch's batches; each call yields one value per field.
function DataLoader:iter()
  local perm = self.shuffle and permutation(self.n) or nil
  if self.distributed then -- this rank's shard, in the epoch's order
    perm = require('gpubp.data.shard').tensor(self.n, self.rank, self.world_size,
      { shuffle = self.shuffle, seed = self.seed, epoch = self.epoch, drop_last = self.drop_last })
  end
  local nb, bs, n = #self, self.batch_size, perm and perm:size(1) or self.n
  local fields, ds, device = self.fields, self.dataset, self.device
  -- the permutation lives on each field's device (index_select wants them together)
  local perms = {}
  if perm then
    for _, f in ipairs(fields) do
      local dev = ds[f].device
      if not perms[dev] then perms[dev] = perm.device == dev and perm or perm:to(dev) end
    end
  end
  local ahead = {} -- field index -> true when its batches are gathered ahead
  local any_ahead = false
  if perm and self.prefetch then
    for i, f in ipairs(fields) do
      if prefetchable(ds[f]) then ahead[i], any_ahead = true, true end
    end
  end
  local jobs = {} -- field index -> the started gather of the next batch
  local at_batch, at_field -- what is being prepared, for an error's message
  local function start_jobs(b)
    local start = (b - 1) * bs + 1
    local len = math.min(bs, n - start + 1)
    at_batch = b
    for i, f in ipairs(fields) do
      at_field = f
      if ahead[i] then jobs[i] = gb._gather_rows(ds[f], perms[ds[f].device], start, len) end
    end
  end
  local failed -- an error met gathering ahead: raised when that batch is asked for
  local function next_batch(b)
    if failed then error(failed, 0) end
    local start = (b - 1) * bs + 1
    local len = math.min(bs, n - start + 1)
    if any_ahead and b == 1 then start_jobs(1) end
    at_batch = b
    local out = {}
    for i, f in ipairs(fields) do
      at_field = f
      local t = ds[f]
      local batch
      if ahead[i] then
        batch = jobs[i]:wait()
      else
        batch = perm and t:index_select(1, perms[t.device]:narrow(1, start, len))
                or t:narrow(1, start, len)
      end
      if device and batch.device ~= device then batch = batch:to(device) end
      out[i] = batch
    end
    if any_ahead and b < nb then
      local ok, err = pcall(start_jobs, b + 1)
      if not ok then failed = err end
    end
    return out
  end
  local b = 0
  return function()
    b = b + 1
    if b > nb then return nil end
    -- a failure (a dataset tensor closed or resized meanwhile) is raised at the user's line
    local ok, out = pcall(next_batch, b)
    if not ok then
      b = nb -- the epoch ends here
      errors.raise(string.format("DataLoader: batch %d, field '%s': %s", at_batch, at_field,
        errors.message(out)))
    end
    return table.unpack(out, 1, #fields)
  end
end

function DataLoader:__call()
  return self:iter()
end

function DataLoader:__tostring()
  local shard = self.distributed and string.format(', shard %d of %d: %d samples', self.rank,
    self.world_size, self.n_shard) or ''
  return string.format('DataLoader(%d samples, batch_size=%d, shuffle=%s, drop_last=%s%s)',
    self.n, self.batch_size, tostring(self.shuffle), tostring(self.drop_last), shard)
end

return DataLoader
