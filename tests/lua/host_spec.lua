-- host_spec.lua — what gpubp needs from the Lua host it runs in, checked under both hosts: the
-- gpubp command (lua_ entries) and stock lua5.4 loading gpubp/core.so (lua54_ entries, which
-- set GPUBP_TEST_HOST=lua5.4). The pooled Lua allocator is the gpubp host's own; tensor byte
-- accounting and the GC hook are the module's and work in any host.
local gb = require 'gpubp'
local host = os.getenv('GPUBP_TEST_HOST') or 'gpubp'
local MiB = 2 ^ 20

local function live()
  collectgarbage('collect')
  collectgarbage('collect')
  return gb.memory_stats().allocated
end

describe('under ' .. host, function()
  it('counts tensor bytes in memory_stats and gives them back when the tensor is collected', function()
    local before = live()
    local t = gb.zeros(1024, 1024)
    assert.are.equal(before + 4 * MiB, gb.memory_stats().allocated)
    t = nil -- luacheck: ignore
    assert.are.equal(before, live())
  end)

  it('frees dead tensors through the allocator GC hook while Lua\'s collector is stopped', function()
    local base = live()
    local peak = 0
    collectgarbage('stop')
    local ok, err = pcall(function()
      for _ = 1, 200 do
        local t = gb.zeros(1024, 1024) -- 4 MiB each, dead at the end of the round
        peak = math.max(peak, gb.memory_stats().allocated - base)
        t:fill_(1)
      end
    end)
    collectgarbage('restart')
    assert(ok, err)
    -- no hook: 200 x 4 MiB = 800 MiB live at the end; the hook collects at live/8 + 4 MiB
    assert.is_true(peak >= 4 * MiB and peak <= 32 * MiB, ('peak %.1f MiB'):format(peak / MiB))
  end)

  it('frees a loop\'s temporaries by young collections while a large tensor stays live', function()
    local big = gb.zeros(16, 1024, 1024) -- 64 MiB: a full collection waits for 8 + 4 MiB more
    local base = live()
    local worst = 0
    for _ = 1, 100 do
      local t = gb.zeros(256, 1024) -- 1 MiB, dead at the end of the round
      t:fill_(1)
      worst = math.max(worst, gb.memory_stats().allocated - base)
    end
    assert.are.equal(16 * 2 ^ 20, big:numel())
    -- a young collection every 4 MiB of new tensor bytes (GB_GC_YOUNG_BYTES): the temporaries
    -- of a training step are freed while their blocks are still in the CPU's caches
    assert.is_true(worst >= 1 * MiB and worst <= 8 * MiB, ('worst %.1f MiB'):format(worst / MiB))
  end)

  it('runs under the generational collector, which both hosts select (lua.c does too)', function()
    local mode = collectgarbage('incremental') -- returns the mode it replaces
    collectgarbage(mode)
    assert.are.equal('generational', mode)
  end)

  it('raises errors at the caller\'s line in this host too', function()
    local ok, err = pcall(function() return gb.ones(2, 3):matmul(gb.ones(2, 3)) end)
    assert.is_false(ok)
    assert.matches('host_spec.lua:%d+: matmul: %(2,3%) x %(2,3%)', err)
  end)
end)
