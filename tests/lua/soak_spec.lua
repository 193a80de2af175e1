-- soak_spec.lua — 10,000 small training steps must hold the allocator's live bytes flat
-- (and the storage count); the process RSS is printed for the record, not asserted.
local gb = require 'gpubp'
local nn, optim = gb.nn, gb.optim

local function rss_kib()
  local f = io.open('/proc/self/status')
  if not f then return -1 end
  local kib = f:read('a'):match('VmRSS:%s*(%d+)')
  f:close()
  return tonumber(kib) or -1
end

describe('soak', function()
  it('keeps live bytes and storage count flat over 10,000 steps', function()
    gb.manual_seed(7)
    local model = nn.Sequential(nn.Linear(16, 32), nn.Tanh(), nn.Linear(32, 4))
    local opt = optim.Adam(model:parameters(), {lr = 1e-3})
    local x, y = gb.randn(32, 16), (gb.rand(32) * 4):long() + 1
    local function live()
      collectgarbage('collect')
      collectgarbage('collect')
      local m = gb.memory_stats()
      return m.allocated, m.count
    end
    local function train(steps)
      for _ = 1, steps do
        opt:zero_grad()
        gb.cross_entropy(model(x), y):backward()
        opt:step()
      end
    end
    train(1000)
    local bytes1k, count1k = live()
    local rss1k = rss_kib()
    train(9000)
    local bytes10k, count10k = live()
    print(string.format('\nsoak: live bytes %d -> %d, storages %d -> %d, RSS %d KiB -> %d KiB',
      bytes1k, bytes10k, count1k, count10k, rss1k, rss_kib()))
    assert.are.equal(bytes1k, bytes10k)
    assert.are.equal(count1k, count10k)
  end)
end)
