-- train_spec.lua — end to end: a short Adam run on the MNIST subset must pass 85% test
-- accuracy, and a long training loop must keep the allocator's live bytes flat.
-- Run: build/gpubp /usr/bin/busted tests/lua/train_spec.lua

local gb = require('gpubp')
local nn, optim, data = gb.nn, gb.optim, gb.data

local function exists(path)
  local f = io.open(path, 'rb')
  if f then f:close() end
  return f ~= nil
end

local function mnist_dir()
  for _, d in ipairs({ os.getenv('GPUBP_DATA') or '', 'data/mnist', '../shared/data/mnist' }) do
    if d ~= '' and exists(d .. '/train-labels-idx1-ubyte.gz') then return d end
  end
  error('MNIST not found in data/mnist: run scripts/fetch_data.sh')
end

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
