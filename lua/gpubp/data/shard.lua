-- data/shard.lua — the sample order of a distributed DataLoader: every rank computes the same
-- epoch order (a Fisher-Yates shuffle driven by a small generator seeded with seed + epoch,
-- independent of gpubp's global generator, so ranks agree whatever else they drew), pads it
-- by repeating its start until it divides by the world size (or drops the tail with
-- drop_last), and takes every world_size-th index from its rank: disjoint shards of equal
-- length that together cover the data, as PyTorch's DistributedSampler.

local gb = require('gpubp.class').gb

local M = {}

-- splitmix64 over Lua's 64-bit integers: a stream of integers from one seed
local function generator(seed)
  local state = seed
  return function()
    state = state + 0x9E3779B97F4A7C15
    local z = state
    z = (z ~ (z >> 30)) * 0xBF58476D1CE4E5B9
    z = (z ~ (z >> 27)) * 0x94D049BB133111EB
    return z ~ (z >> 31)
  end
end

-- A permutation of 1..n (a Lua list), the same for the same seed on every machine.
function M.permutation(n, seed)
  local idx = {}
  for i = 1, n do idx[i] = i end
  local next_int = generator(seed)
  for i = n, 2, -1 do
    local j = (next_int() >> 1) % i + 1 -- >> 1: non-negative
    idx[i], idx[j] = idx[j], idx[i]
  end
  return idx
end

-- The shard of `rank` (1..world) of n samples: a list of 1-based indices, and its length.
-- opts: shuffle, seed, epoch, drop_last.
function M.indices(n, rank, world, opts)
  local order
  if opts.shuffle then
    order = M.permutation(n, opts.seed + opts.epoch)
  else
    order = {}
    for i = 1, n do order[i] = i end
  end
  local per
  if opts.drop_last then
    per = n // world
  else
    per = (n + world - 1) // world
    local total = per * world
    for i = n + 1, total do order[i] = order[(i - n - 1) % n + 1] end -- pad from the start
  end
  local mine = {}
  for k = 1, per do mine[k] = order[(k - 1) * world + rank] end
  return mine, per
end

-- The same as an int64 tensor on `device` (nil: cpu).
function M.tensor(n, rank, world, opts, device)
  local mine = M.indices(n, rank, world, opts)
  local t = gb.tensor(#mine > 0 and mine or { 0 }, { dtype = 'int64' })
  if #mine == 0 then t = t:narrow(1, 1, 0) end
  if device and t.device ~= device then t = t:to(device) end
  return t
end

return M
