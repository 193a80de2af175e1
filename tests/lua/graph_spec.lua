-- graph_spec.lua — gb.graph on the CPU: replayed steps equal eager steps bit for bit (SGD with
-- momentum, Adam, AdamW, RMSprop, Dropout, BatchNorm1d, a scheduler changing lr), memory stays
-- flat over replays, a new shape records again, errors leave nothing half-recorded.
local gb = require 'gpubp'
local nn, optim = gb.nn, gb.optim

-- Fixed batches, made once from their own seed.
local function batches(n, bs, nin, classes)
  gb.manual_seed(1234)
  local xs, ys = {}, {}
  for i = 1, n do
    xs[i] = gb.randn(bs, nin)
    ys[i] = (gb.rand(bs) * (classes - 0.001)):long() + 1
  end
  return xs, ys
end

-- A model, optimizer and scheduler from seed 1, and the step function training them.
local function setup(make_opt, with_sched)
  gb.manual_seed(1)
  local net = nn.Sequential(nn.Linear(12, 16), nn.BatchNorm1d(16), nn.ReLU(), nn.Dropout(0.25),
    nn.Linear(16, 4))
  local opt = make_opt(net:parameters())
  local sched = with_sched and optim.StepLR(opt, { step_size = 7, gamma = 0.5 }) or nil
  local loss_fn = nn.CrossEntropyLoss()
  local runs = { lua_calls = 0 }
  local function step(x, y)
    runs.lua_calls = runs.lua_calls + 1
    opt:zero_grad()
    local loss = loss_fn(net(x), y)
    loss:backward()
    opt:step()
    return loss
  end
  return net, opt, sched, step, runs
end

-- Trains `steps` steps eagerly and through gb.graph from the same seeds; returns both runs'
-- losses and parameters as plain numbers.
local function both_ways(make_opt, steps)
  local xs, ys = batches(10, 8, 12, 4)
  local runs = {}
  for _, mode in ipairs({ 'eager', 'graph' }) do
    local net, _, sched, step, counts = setup(make_opt, true)
    if mode == 'graph' then step = gb.graph(step) end
    gb.manual_seed(99) -- the dropout masks draw from here on
    local losses = {}
    for i = 1, steps do
      local k = (i - 1) % #xs + 1
      losses[i] = step(xs[k], ys[k]):item()
      sched:step()
    end
    local params = {}
    for _, p in ipairs(net:parameters()) do params[#params + 1] = p:totable() end
    local bn = net[2]
    runs[mode] = {
      losses = losses, params = params, step = step, lua_calls = counts.lua_calls,
      running = { bn.running_mean:totable(), bn.running_var:totable() },
    }
  end
  return runs.eager, runs.graph
end

describe('gb.graph', function()
  -- {make, Lua calls of the step in 200}: fused optimizers replay after one warm-up call and
  -- one recording call; RMSprop runs op by op (its Lua state would not advance in a replay),
  -- so its step stays eager
  local optimizers = {
    ['SGD with momentum and Nesterov'] = { function(p)
      return optim.SGD(p, { lr = 0.1, momentum = 0.9, nesterov = true, weight_decay = 1e-4 })
    end, 2 },
    Adam = { function(p) return optim.Adam(p, { lr = 0.01 }) end, 2 },
    AdamW = { function(p) return optim.AdamW(p, { lr = 0.01, weight_decay = 0.1 }) end, 2 },
    ['RMSprop (op by op: stays eager)'] = { function(p) return optim.RMSprop(p, { lr = 0.01 }) end,
      200 },
  }
  for name, case in pairs(optimizers) do
    local make_opt, lua_calls = case[1], case[2]
    it('replays 200 steps bit for bit like eager steps: ' .. name, function()
      local eager, replayed = both_ways(make_opt, 200)
      assert.are.same(eager.losses, replayed.losses)
      assert.are.same(eager.params, replayed.params)
      assert.are.same(eager.running, replayed.running)
      assert.are.equal(lua_calls == 2 and 1 or 0, replayed.step.recordings)
      assert.are.equal(200, eager.lua_calls)
      assert.are.equal(lua_calls, replayed.lua_calls)
    end)
  end

  it('gives replays the lr set between calls and Adam its step count', function()
    -- loss = p: the gradient is 1, so SGD moves p by exactly lr, and Adam (whose bias
    -- corrections cancel for a constant gradient only with the right step count) by lr
    for _, case in ipairs({
      { optim.SGD, { 0.1, 0.1, 0.5, 0.25, 0.125 }, 1 - 1.075 },
      { optim.Adam, { 0.1, 0.1, 0.1, 0.1, 0.1, 0.1 }, 1 - 0.6 },
    }) do
      local p = nn.Parameter(gb.ones(1))
      local opt = case[1]({ p }, { lr = 0.1 })
      local step = gb.graph(function()
        opt:zero_grad()
        local loss = p:sum()
        loss:backward()
        opt:step()
        return loss
      end)
      for _, lr in ipairs(case[2]) do
        opt.param_groups[1].lr = lr
        step()
      end
      assert.are.equal(1, step.recordings)
      assert.is_true(math.abs(p:item() - case[3]) < 1e-5, tostring(p:item()))
    end
  end)

  it('says why a step stays eager', function()
    local p = nn.Parameter(gb.ones(2))
    local opt = optim.RMSprop({ p }, { lr = 0.1 })
    local step = gb.graph(function()
      opt:zero_grad()
      local loss = p:sum()
      loss:backward()
      opt:step()
      return loss
    end, { warmup = 0 })
    assert.is_nil(step:eager_reason())
    step()
    assert.are.equal('RMSprop updates some parameters op by op (no fused row applies)',
      step:eager_reason())
    step()
    assert.are.equal(2, opt.state[p].step) -- eager calls: the optimizer's state advances
  end)

  it('replays without running the Lua function after warm-up and recording', function()
    local calls = 0
    local w = gb.ones(3)
    local step = gb.graph(function(x)
      calls = calls + 1
      return (x * w):sum()
    end)
    for i = 1, 10 do
      assert.are.equal(6 * i, step(gb.full({ 3 }, 2 * i)):item())
    end
    assert.are.equal(2, calls) -- one warm-up call, one recording call
    local eager_now = gb.graph(function(x) calls = calls + 1; return x * 2 end, { warmup = 0 })
    eager_now(gb.ones(2))
    assert.are.same({ 4, 4 }, eager_now(gb.full({ 2 }, 2)):totable())
    assert.are.equal(3, calls)
  end)

  it('records again for a new shape, within max_recordings, and reset drops them', function()
    local step = gb.graph(function(x) return x:sum() end, { warmup = 0, max_recordings = 2 })
    assert.are.equal(6, step(gb.ones(6)):item())
    assert.are.equal(6, step(gb.ones(6)):item())
    assert.are.equal(1, step.recordings)
    assert.are.equal(4, step(gb.ones(2, 2)):item())
    assert.are.equal(2, step.recordings)
    assert.are.equal(3, step(gb.ones(3)):item())
    assert.are.equal(2, step.recordings) -- the least recently used one was dropped
    assert.are.equal(6, step(gb.ones(6)):item())
    step:reset()
    assert.are.equal(0, step.recordings)
    assert.are.equal(5, step(gb.ones(5)):item())
  end)

  it('keeps memory flat over replays', function()
    local _, _, _, train = setup(function(p) return optim.Adam(p, { lr = 1e-3 }) end, false)
    local step = gb.graph(train)
    local xs, ys = batches(4, 8, 12, 4)
    for i = 1, 20 do step(xs[i % 4 + 1], ys[i % 4 + 1]) end
    collectgarbage('collect')
    local before = gb.memory_stats().allocated
    for i = 1, 300 do step(xs[i % 4 + 1], ys[i % 4 + 1]) end
    collectgarbage('collect')
    assert.are.equal(before, gb.memory_stats().allocated)
  end)

  it('leaves nothing half-recorded when the step raises, and records on the next call', function()
    local fail = true
    local step = gb.graph(function(x)
      local y = x * 3
      if fail then error('boom in the step') end
      return y:sum()
    end, { warmup = 0 })
    local ok, err = pcall(step, gb.ones(2))
    assert.is_false(ok)
    assert.matches('boom in the step', err, 1, true)
    assert.are.equal(0, step.recordings)
    fail = false
    assert.are.equal(6, step(gb.ones(2)):item())
    assert.are.equal(1, step.recordings)
    assert.are.equal(9, step(gb.full({ 3 }, 1)):item())
  end)

  it('refuses what it cannot replay, with messages that say why', function()
    assert.has_error(function() gb.graph(42) end, 'graph: expected a function, got number')
    assert.has_error(function() gb.graph(function() end, { warmpu = 1 }) end,
      "graph: unknown option 'warmpu'")
    assert.has_error(function() gb.graph(function() end, { max_recordings = 0 }) end,
      'graph: max_recordings must be >= 1, got 0')
    local step = gb.graph(function(t) return t end, { warmup = 0 })
    assert.has_error(function() step({ 1, 2 }) end,
      'graph: argument 1 is a table; pass tensors, numbers, booleans or strings (a recording '
      .. 'cannot see into tables or functions)')
    local lua_value = gb.graph(function(x) return x:sum():item() end, { warmup = 0 })
    assert.has_error(function() lua_value(gb.ones(2)) end,
      'graph: result 1 of the step is a number; return tensors (a replay computes no Lua values)')
    assert.are.equal(0, lua_value.recordings)
    assert.has_error(function() gb.graph.on_replay(function() end) end,
      'graph.on_replay: no recording is being made')
  end)

  it('takes numbers into the signature: another value records again', function()
    local step = gb.graph(function(x, k) return x * k end, { warmup = 0 })
    assert.are.same({ 2, 2 }, step(gb.ones(2), 2):totable())
    assert.are.same({ 2, 2 }, step(gb.ones(2), 2):totable())
    assert.are.same({ 3, 3 }, step(gb.ones(2), 3):totable())
    assert.are.equal(2, step.recordings)
  end)
end)
