-- soak.lua — a long training loop that reports live tensor bytes and process RSS as it goes
-- (the 10,000-step version is tests/lua/soak_spec.lua). Usage: gpubp scripts/soak.lua [steps]
local nn, optim = gb.nn, gb.optim
local steps = tonumber(arg[1]) or 100000

local function rss_kib()
  local f = io.open('/proc/self/status')
  if not f then return -1 end
  local kib = f:read('a'):match('VmRSS:%s*(%d+)')
  f:close()
  return tonumber(kib) or -1
end

gb.manual_seed(7)
local model = nn.Sequential(nn.Linear(16, 32), nn.Tanh(), nn.Linear(32, 4))
local opt = optim.Adam(model:parameters(), {lr = 1e-3})
local x, y = gb.randn(32, 16), (gb.rand(32) * 4):long() + 1
local t0 = gb.time()
for step = 1, steps do
  opt:zero_grad()
  local loss = gb.cross_entropy(model(x), y)
  loss:backward()
  opt:step()
  if step % (steps // 10) == 0 then
    local m = gb.memory_stats()
    print(('step %7d  loss %.4f  live %d bytes in %d tensors  RSS %d KiB  %.1f us/step'):format(
      step, loss:item(), m.allocated, m.count, rss_kib(), (gb.time() - t0) / step * 1e6))
  end
end
