-- train_spec.lua — end to end: a short Adam run on the MNIST subset must pass 85% test
-- accuracy, and a long training loop must keep the allocator's live bytes flat.
-- Run: build/gpubp /usr/bin/busted tests/lua/train_spec.lua

local gb = require('gpubp')
local nn, optim, data = gb.nn, gb.optim, gb.data

local support = dofile('tests/lua/support.lua')
local mnist_dir = support.mnist_dir

local function mlp(hidden)
  return nn.Sequential(nn.Linear(784, hidden), nn.ReLU(), nn.Linear(hidden, 10))
end

describe('training on MNIST', function()
  it('reaches > 85% test accuracy after 2 epochs of Adam', function()
    gb.manual_seed(1)
    local dir = mnist_dir()
    local train = data.DataLoader(data.mnist(dir, 'train'), { batch_size = 100, shuffle = true })
    local test_set = data.mnist(dir, 'test')
    local model = mlp(128)
    local opt = optim.Adam(model:parameters(), { lr = 1e-3 })
    local criterion = nn.CrossEntropyLoss()
    local first, last
    for _ = 1, 2 do
      for x, y in train() do
        opt:zero_grad()
        local loss = criterion(model(x), y)
        loss:backward()
        opt:step()
        first = first or loss:item()
        last = loss:item()
      end
    end
    assert.is_true(last < first / 3, string.format('loss %.4f -> %.4f', first, last))
    model:eval()
    local acc = gb.no_grad(function()
      return model(test_set.x):argmax(2):eq(test_set.y):sum():item() / test_set.n
    end)
    assert.is_true(acc > 0.85, string.format('test accuracy %.4f', acc))
  end)
end)

-- The gpubp executable running this spec: the lowest negative index of `arg`.
local function gpubp_exe()
  local i = -1
  while arg[i - 1] do i = i - 1 end
  return arg[i]
end

local function run_script(args)
  local cmd = string.format("'%s' scripts/train_mnist.lua --data '%s' --quiet %s 2>&1",
    gpubp_exe(), mnist_dir(), args)
  local p = assert(io.popen(cmd))
  local out = p:read('a')
  local ok = p:close()
  assert.is_true(ok, cmd .. '\n' .. out)
  return out, tonumber(out:match('\ntest accuracy: (0%.%d%d%d%d)\n$'))
end

describe('scripts/train_mnist.lua', function()
  it('default recipe (SGD lr 0.01, 10 epochs) reaches >= 81.5%', function()
    local out, acc = run_script('--seed 1')
    assert.is_not_nil(acc, out)
    assert.is_true(acc >= 0.815, out)
    local epochs = 0
    for _ in out:gmatch('epoch %d+/10  train loss') do epochs = epochs + 1 end
    assert.are.equal(10, epochs)
  end)

  it('--optim adam --lr 0.001 reaches >= 90.5% and writes the plot', function()
    local svg = os.tmpname()
    local out, acc = run_script('--optim adam --lr 0.001 --seed 2 --plot ' .. svg)
    assert.is_true(acc >= 0.905, out)
    local f = assert(io.open(svg))
    local text = f:read('a')
    f:close()
    os.remove(svg)
    assert.matches('^<svg', text)
    local _, lines = text:gsub('<polyline', '')
    assert.are.equal(2, lines)
  end)

  it('resuming from a checkpoint reproduces the unbroken run bit for bit', function()
    if not (gb.save and gb.get_rng_state) then
      pending('gb.save or gb.get_rng_state is not available in this build')
      return
    end
    local ck, a, b = os.tmpname(), os.tmpname(), os.tmpname()
    run_script('--optim adam --epochs 2 --checkpoint ' .. ck)
    local resumed = run_script('--optim adam --epochs 3 --resume ' .. ck .. ' --checkpoint ' .. a)
    local straight = run_script('--optim adam --epochs 3 --checkpoint ' .. b)
    local function last_epoch(out) return out:match('(epoch 3/3  train loss %S+  test accuracy %S+)') end
    assert.is_not_nil(last_epoch(straight))
    assert.are.equal(last_epoch(straight), last_epoch(resumed))
    local ca, cb = gb.load(a), gb.load(b)
    for _, f in ipairs({ ck, a, b }) do os.remove(f) end
    local n = 0
    for k, t in pairs(cb) do
      if k:match('^model%.') or k:match('^optim%.state') then
        assert.are.same(t:totable(), ca[k]:totable(), k)
        n = n + 1
      end
    end
    assert.are.equal(4 + 4 * 3, n)
  end)

  it('fails with a clear message when the data is missing', function()
    local cmd = string.format("'%s' scripts/train_mnist.lua --data /nonexistent 2>&1", gpubp_exe())
    local p = assert(io.popen(cmd))
    local out = p:read('a')
    assert.is_nil(p:close())
    assert.matches('no MNIST train files in /nonexistent', out, 1, true)
  end)
end)

describe('memory', function()
  it('keeps allocated bytes flat over 1000 training steps', function()
    if not gb.memory_stats then
      pending('gb.memory_stats is not available in this build')
      return
    end
    gb.manual_seed(2)
    local model = nn.Sequential(nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 10))
    local opt = optim.SGD(model:parameters(), { lr = 0.01, momentum = 0.9 })
    local criterion = nn.CrossEntropyLoss()
    local x = gb.randn(50, 64)
    local y = (gb.rand(50) * 10):long() + 1
    local function allocated()
      collectgarbage('collect')
      collectgarbage('collect')
      return gb.memory_stats().allocated
    end
    local at100
    for step = 1, 1000 do
      opt:zero_grad()
      criterion(model(x), y):backward()
      opt:step()
      if step == 100 then at100 = allocated() end
    end
    local at1000 = allocated()
    assert.is_true(math.abs(at1000 - at100) <= 4096,
      string.format('allocated bytes: %d at step 100, %d at step 1000', at100, at1000))
  end)
end)
