-- data_shard_spec.lua — DataLoader{distributed=true} without a launcher (rank= and
-- world_size= given): the shards of all ranks are disjoint and cover the data, have equal
-- lengths (padded from the start, or dropped with drop_last), are the same for the same
-- seed + epoch whatever gpubp's generator did, and change with set_epoch. Under mpirun,
-- tests/dist/shard_spec.lua checks the same across real ranks.
-- Run: build/gpubp /usr/bin/busted tests/lua/data_shard_spec.lua

local gb = require('gpubp')
local DataLoader = gb.data.DataLoader

-- the sample ids (x holds i at row i) a loader yields in one epoch
local function ids(loader)
  local out = {}
  for x in loader() do
    for _, v in ipairs(x:totable()) do out[#out + 1] = math.tointeger(v) end
  end
  return out
end

local function dataset(n)
  return { x = gb.arange(1, n + 1), y = gb.zeros(n) }
end

local function shards(n, world, opts)
  local all = {}
  for r = 1, world do
    local o = { distributed = true, rank = r, world_size = world, batch_size = 3 }
    for k, v in pairs(opts or {}) do o[k] = v end
    all[r] = ids(DataLoader(dataset(n), o))
  end
  return all
end

describe('DataLoader{distributed=true}', function()
  it('gives disjoint shards that cover the data (10 samples, 2 ranks, in order)', function()
    local s = shards(10, 2)
    assert.are.same({ 1, 3, 5, 7, 9 }, s[1])
    assert.are.same({ 2, 4, 6, 8, 10 }, s[2])
  end)

  it('shuffled shards are disjoint and cover the data, equal in length', function()
    for _, world in ipairs({ 2, 3, 4 }) do
      local s = shards(24, world, { shuffle = true, seed = 5 })
      local seen = {}
      for r = 1, world do
        assert.are.equal(24 // world, #s[r])
        for _, i in ipairs(s[r]) do
          assert.is_nil(seen[i], 'sample ' .. i .. ' is in two shards')
          seen[i] = r
        end
      end
      for i = 1, 24 do assert.is_not_nil(seen[i], 'sample ' .. i .. ' is in no shard') end
    end
  end)

  it('pads uneven sizes by repeating the order from its start', function()
    local s = shards(10, 3) -- 4 per rank: the order is 1..10 then 1, 2
    assert.are.same({ 1, 4, 7, 10 }, s[1])
    assert.are.same({ 2, 5, 8, 1 }, s[2])
    assert.are.same({ 3, 6, 9, 2 }, s[3])
    local loader = DataLoader(dataset(10), { distributed = true, rank = 2, world_size = 3, batch_size = 3 })
    assert.are.equal(4, loader.n_shard)
    assert.are.equal(2, #loader)
  end)

  it('drops the uneven tail with drop_last (and the partial batch)', function()
    local s = shards(11, 3, { drop_last = true, batch_size = 2 }) -- 3 each: 1..9, batches of 2
    assert.are.same({ 1, 4 }, s[1])
    assert.are.same({ 2, 5 }, s[2])
    assert.are.same({ 3, 6 }, s[3])
    local loader = DataLoader(dataset(11), { distributed = true, rank = 1, world_size = 3,
      drop_last = true, batch_size = 2 })
    assert.are.equal(3, loader.n_shard)
    assert.are.equal(1, #loader)
  end)

  it('is reproducible per epoch, whatever the global generator did', function()
    local function epoch_ids(seed_global, epoch)
      gb.manual_seed(seed_global)
      gb.rand(7) -- ranks may draw different numbers before
      local l = DataLoader(dataset(30), { distributed = true, rank = 2, world_size = 2,
        shuffle = true, batch_size = 4 })
      l:set_epoch(epoch)
      return ids(l)
    end
    assert.are.same(epoch_ids(1, 3), epoch_ids(99, 3))
    assert.are_not.same(epoch_ids(1, 3), epoch_ids(1, 4))
    local unshuffled = {}
    for i = 1, 15 do unshuffled[i] = 2 * i end
    assert.are_not.same(unshuffled, epoch_ids(1, 3))
  end)

  it('says what is wrong', function()
    assert.has_error(function()
      DataLoader(dataset(4), { distributed = true, rank = 3, world_size = 2 })
    end, 'DataLoader: rank 3 is not in 1..2 (world_size)')
    local ok, err = pcall(DataLoader, dataset(4), { distributed = true })
    assert.is_false(ok)
    assert.matches('DataLoader: distributed=true needs gb.distributed.init%(%) first', err)
    assert.has_error(function() DataLoader(dataset(4), {}):set_epoch(1.5) end,
      'DataLoader:set_epoch: expected an integer epoch, got 1.5')
  end)

  it('prints its shard; a plain loader is shard 1 of 1', function()
    local l = DataLoader(dataset(10), { distributed = true, rank = 1, world_size = 3, batch_size = 2 })
    assert.matches('shard 1 of 3: 4 samples', tostring(l))
    local p = DataLoader(dataset(10), { batch_size = 2 })
    assert.are.equal(1, p.world_size)
    assert.are.equal(10, p.n_shard)
    assert.is_false(p.distributed)
  end)
end)
