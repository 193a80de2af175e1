-- shard_spec.lua — DataLoader{distributed=true} across real ranks (rank and world size from
-- gb.distributed): the shards gathered from every rank are disjoint, cover the dataset, and
-- every epoch (set_epoch) gives a new order that all ranks agree on.
-- Run: mpirun --oversubscribe -np 2 build/gpubp --device cpu /usr/bin/busted tests/dist/shard_spec.lua

local gb = require('gpubp')
local d = gb.distributed

describe('DataLoader{distributed=true} under mpirun', function()
  setup(function() d.init({ timeout = 30 }) end)
  teardown(function() d.finalize() end)

  for _, n in ipairs({ 100, 101 }) do
    it('shards of ' .. n .. ' samples are disjoint and cover them, each epoch', function()
      local ds = { x = gb.arange(1, n + 1, { dtype = 'int64' }):reshape(n, 1), y = gb.zeros(n) }
      local loader = gb.data.DataLoader(ds, { distributed = true, shuffle = true, batch_size = 8 })
      assert.are.equal(d.rank(), loader.rank)
      local per = (n + d.world_size() - 1) // d.world_size()
      assert.are.equal(per, loader.n_shard)
      local previous
      for epoch = 1, 3 do
        loader:set_epoch(epoch)
        local mine = {}
        for x in loader() do
          for _, row in ipairs(x:totable()) do mine[#mine + 1] = row[1] end
        end
        assert.are.equal(per, #mine)
        local all = d.all_gather(gb.tensor(mine, { dtype = 'int64' }))
        local count = {}
        for r = 1, #all do
          for _, i in ipairs(all[r]:totable()) do count[i] = (count[i] or 0) + 1 end
        end
        local twice = 0
        for i = 1, n do
          assert.is_not_nil(count[i], 'sample ' .. i .. ' is in no shard')
          if count[i] > 1 then twice = twice + 1 end
        end
        -- padding repeats exactly per * world - n samples
        assert.are.equal(per * d.world_size() - n, twice)
        assert.are_not.same(previous, mine)
        previous = mine
      end
    end)
  end
end)
