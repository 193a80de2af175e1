-- train_spec.lua (gpu) — training on cuda:0 against the CPU: the MNIST script reaches the CPU
-- run's test accuracy within 0.5 points; the same seed draws the same numbers on both
-- devices; a long loop keeps device memory flat; bad labels and a true OOM are Lua errors
-- the session survives. Run through tests/gpu/run_spec.lua (skips without a GPU).

local gb = require('gpubp')
local nn, optim = gb.nn, gb.optim

local support = dofile('tests/lua/support.lua')
local mnist_dir = support.mnist_dir

-- Run scripts/train_mnist.lua on `device`; returns the final test accuracy and the output.
local function train(device, extra)
  local exe = GPUBP_EXE or 'build/gpubp'
  local cmd = string.format('%s scripts/train_mnist.lua --device %s --data %s --quiet %s 2>&1',
                            exe, device, mnist_dir(), extra)
  local p = assert(io.popen(cmd))
  local out = p:read('a')
  p:close()
  local acc = tonumber(out:match('test accuracy: ([%d%.]+)%s*$'))
  assert.truthy(acc, 'no final accuracy from: ' .. cmd .. '\n' .. out)
  return acc, out
end

local function max_abs_diff(a, b)
  return (a:cpu() - b:cpu()):abs():max():item()
end

describe('cuda training', function()
  it('the MNIST script on cuda matches the CPU run within 0.5 points', function()
    local args = '--epochs 3 --optim adam --seed 1'
    local cpu_acc = train('cpu', args)
    local gpu_acc, out = train('cuda', args)
    print(string.format('# accuracy cpu %.4f cuda %.4f', cpu_acc, gpu_acc))
    assert.is_true(out:find('device cuda', 1, true) ~= nil, 'the run did not use cuda:\n' .. out)
    assert.is_true(math.abs(cpu_acc - gpu_acc) <= 0.005,
                   string.format('accuracy cpu %.4f vs cuda %.4f', cpu_acc, gpu_acc))
    assert.is_true(gpu_acc > 0.8, string.format('cuda accuracy %.4f', gpu_acc))
  end)

  it('the same seed draws the same numbers on cpu and cuda', function()
    gb.manual_seed(7)
    local a, b = gb.rand(1001, { device = 'cpu' }), gb.randn(33, 17, { device = 'cpu' })
    gb.manual_seed(7)
    local c, d = gb.rand(1001, { device = 'cuda' }), gb.randn(33, 17, { device = 'cuda' })
    assert.are.equal('cuda:0', c.device)
    assert.is_true(max_abs_diff(a, c) == 0, 'rand differs')
    assert.is_true(max_abs_diff(b, d) < 1e-5, 'randn differs by ' .. max_abs_diff(b, d))
  end)

  it('a model trained on cuda keeps device memory flat and learns', function()
    gb.manual_seed(3)
    gb.set_default_device('cpu') -- built on the CPU, then moved
    local model = nn.Sequential(nn.Linear(784, 128), nn.ReLU(), nn.Linear(128, 10)):to('cuda')
    local opt = optim.SGD(model:parameters(), { lr = 0.1, momentum = 0.9 })
    local crit = nn.CrossEntropyLoss()
    local x = gb.rand(100, 784, { device = 'cuda' })
    local y = gb.tensor((function()
      local t = {}
      for i = 1, 100 do t[i] = (i % 10) + 1 end
      return t
    end)(), { dtype = 'int64', device = 'cuda' })
    local first, last, after_warmup
    for step = 1, 300 do
      opt:zero_grad()
      local loss = crit(model(x), y)
      loss:backward()
      opt:step()
      if step == 1 then first = loss:item() end
      if step == 300 then last = loss:item() end
      if step == 20 then
        collectgarbage()
        after_warmup = gb.cuda.memory_stats().allocated
      end
    end
    collectgarbage()
    local now = gb.cuda.memory_stats()
    assert.is_true(last < first / 4, string.format('loss %.4f -> %.4f', first, last))
    assert.is_true(now.allocated <= after_warmup + 65536,
                   string.format('device bytes grew: %d after warm-up, %d after 300 steps',
                                 after_warmup, now.allocated))
    assert.is_true(now.peak >= now.allocated and now.reserved >= now.allocated,
                   'memory_stats: ' .. now.allocated .. ' ' .. now.reserved .. ' ' .. now.peak)
    for _, p in ipairs(model:parameters()) do
      assert.are.equal('cuda:0', p.device)
      assert.are.equal('cuda:0', p.grad.device)
    end
  end)

  it('an out-of-range label is a Lua error naming it at the next sync, and the session goes on', function()
    local logits = gb.randn(4, 5, { device = 'cuda' })
    local y = gb.tensor({ 1, 2, 9, 3 }, { dtype = 'int64', device = 'cuda' })
    -- the loss op does not stop to read its check back (no stall inside a step) ...
    local loss = nn.CrossEntropyLoss()(logits, y)
    -- ... the first sync does, with the CPU's message
    local ok, err = pcall(function() return loss:item() end)
    assert.is_false(ok)
    assert.is_true(tostring(err):find('label 9 at position 3 is out of range 1..5', 1, true) ~= nil,
                   tostring(err))
    local fine = gb.tensor({ 1, 2, 5, 3 }, { dtype = 'int64', device = 'cuda' })
    assert.is_true(nn.CrossEntropyLoss()(logits, fine):item() > 0)
  end)

  it('a true out-of-memory is a Lua error with the sizes, and the session goes on', function()
    local ok, err = pcall(function() return gb.empty(2 ^ 39, { device = 'cuda' }) end)
    assert.is_false(ok)
    assert.is_true(tostring(err):find('out of memory', 1, true) ~= nil, tostring(err))
    local t = gb.ones(1000, { device = 'cuda' })
    assert.are.equal(1000, t:sum():item())
    gb.cuda.empty_cache()
    assert.is_true(gb.cuda.memory_stats().reserved >= gb.cuda.memory_stats().allocated)
  end)

  it('synchronize and the TF32 switch are callable', function()
    gb.cuda.synchronize()
    gb.cuda.set_tf32(true)
    local a, b = gb.randn(64, 64, { device = 'cuda' }), gb.randn(64, 64, { device = 'cuda' })
    local tf = a:matmul(b)
    gb.cuda.set_tf32(false)
    local exact = a:matmul(b)
    local ref = a:cpu():matmul(b:cpu())
    assert.is_true(max_abs_diff(exact, ref) < 1e-3, 'fp32 matmul off by ' .. max_abs_diff(exact, ref))
    assert.is_true(max_abs_diff(tf, ref) < 0.5, 'tf32 matmul off by ' .. max_abs_diff(tf, ref))
  end)

  it('a checkpoint saved from cuda loads on the cpu with the same values', function()
    local path = os.tmpname()
    local x = gb.randn(3, 4, { device = 'cuda' })
    local net = gb.nn.Linear(4, 2):cuda()
    local sd = net:state_dict()
    sd.x = x
    gb.save(path, sd)
    local back = gb.load(path)
    os.remove(path)
    assert.are.equal('cpu', back.x.device)
    assert.are.same(x:cpu():totable(), back.x:totable())
    assert.are.same(net.weight:cpu():totable(), back.weight:totable())
  end)
end)
