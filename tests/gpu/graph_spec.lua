-- graph_spec.lua (gpu) — gb.graph on cuda:0, the twin of tests/lua/graph_spec.lua: replayed
-- steps equal eager steps bit for bit over 200 steps (SGD with momentum, Adam, Dropout,
-- BatchNorm1d, a scheduler changing lr), device memory stays flat over replays, and a new
-- shape records again. Run through tests/gpu/run_spec.lua (skips without a GPU).
local gb = require('gpubp')
local nn, optim = gb.nn, gb.optim

local function batches(n, bs, nin, classes)
  gb.manual_seed(1234)
  local xs, ys = {}, {}
  for i = 1, n do
    xs[i] = gb.randn(bs, nin):cuda()
    ys[i] = ((gb.rand(bs) * (classes - 0.001)):long() + 1):cuda()
  end
  return xs, ys
end

local function train(make_opt, use_graph, steps)
  local xs, ys = batches(10, 8, 12, 4)
  gb.manual_seed(1)
  local net = nn.Sequential(nn.Linear(12, 16), nn.BatchNorm1d(16), nn.ReLU(), nn.Dropout(0.25),
    nn.Linear(16, 4))
  net:to('cuda')
  local opt = make_opt(net:parameters())
  local sched = optim.StepLR(opt, { step_size = 7, gamma = 0.5 })
  local loss_fn = nn.CrossEntropyLoss()
  local calls = 0
  local step = function(x, y)
    calls = calls + 1
    opt:zero_grad()
    local loss = loss_fn(net(x), y)
    loss:backward()
    opt:step()
    return loss
  end
  if use_graph then step = gb.graph(step) end
  gb.manual_seed(99)
  local losses = {}
  for i = 1, steps do
    local k = (i - 1) % #xs + 1
    losses[i] = step(xs[k], ys[k]):item()
    sched:step()
  end
  local params = {}
  for _, p in ipairs(net:parameters()) do params[#params + 1] = p:cpu():totable() end
  return losses, params, calls, step
end

describe('gb.graph on cuda', function()
  for name, make_opt in pairs({
    SGD = function(p) return optim.SGD(p, { lr = 0.1, momentum = 0.9 }) end,
    Adam = function(p) return optim.Adam(p, { lr = 0.01 }) end,
  }) do
    it('replays 200 steps bit for bit like eager steps: ' .. name, function()
      local la, pa = train(make_opt, false, 200)
      local lb, pb, calls, step = train(make_opt, true, 200)
      assert.are.same(la, lb)
      assert.are.same(pa, pb)
      assert.are.equal(2, calls)
      assert.are.equal(1, step.recordings)
    end)
  end

  it('keeps device memory flat over replays and records again for a new shape', function()
    local w = gb.ones(4):cuda()
    local step = gb.graph(function(x) return (x * w):sum() end, { warmup = 0 })
    for _ = 1, 10 do step(gb.ones(4):cuda()) end
    collectgarbage('collect')
    local before = gb.cuda.memory_stats().allocated
    for i = 1, 500 do assert.are.equal(4 * i, step(gb.full({ 4 }, i):cuda()):item()) end
    collectgarbage('collect')
    assert.are.equal(before, gb.cuda.memory_stats().allocated)
    assert.are.equal(8, step(gb.ones(2, 4):cuda()):item())
    assert.are.equal(2, step.recordings)
  end)
end)
