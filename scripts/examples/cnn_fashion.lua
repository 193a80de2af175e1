-- cnn_fashion.lua — a small CNN with BatchNorm2d on Fashion-MNIST (60k train / 10k test):
-- two blocks of Conv2d 3x3 (padding 1) - BatchNorm2d - ReLU - MaxPool2d 2, then
-- Linear(64*7*7, 128) - ReLU - Dropout(0.25) - Linear(128, 10); Adam lr 1e-3, batch 64,
-- cross-entropy. The PyTorch twin is scripts/bench/cnn_fashion_torch.py (same recipe).
--   build/gpubp scripts/examples/cnn_fashion.lua [--epochs 3] [--seed 1] [--quick] ...
-- The last line printed is `test accuracy: 0.xxxx`; each epoch prints its samples/s.

local gb = require('gpubp')
local nn, optim, data = gb.nn, gb.optim, gb.data

local USAGE = [[
usage: gpubp scripts/examples/cnn_fashion.lua [options]
  --data DIR      Fashion-MNIST IDX files (default /usr/share/datasets/fashion-mnist,
                  Debian's dataset-fashion-mnist)
  --epochs N      epochs (default 3)
  --batch N       batch size (default 64)
  --lr X          Adam learning rate (default 0.001)
  --eval-batch N  images per evaluation batch (default 2000)
  --seed N        random seed (default 1)
  --device D      cpu | cuda | cuda:N (default: gpubp's default device)
  --quick         2,000 training and 1,000 test images, one epoch (a test runs this)
  -h, --help      this text]]

local function fail(msg)
  io.stderr:write('cnn_fashion: ', msg, '\n')
  os.exit(2)
end

local function parse_args(argv)
  local o = { data = '/usr/share/datasets/fashion-mnist', epochs = 3, batch = 64, lr = 1e-3,
              eval_batch = 2000, seed = 1 }
  local NUM = { epochs = 'int', batch = 'int', lr = 'num', eval_batch = 'int', seed = 'int' }
  local i = 1
  while i <= #argv do
    local a = argv[i]
    if a == '-h' or a == '--help' then print(USAGE) os.exit(0) end
    if a == '--quick' then
      o.quick = true
      i = i + 1
    else
      local key = a:match('^%-%-([%w%-]+)$')
      key = key and key:gsub('%-', '_')
      local val = argv[i + 1]
      if not key or not (NUM[key] or key == 'data' or key == 'device') then
        fail("unknown option '" .. a .. "'\n" .. USAGE)
      end
      if val == nil then fail('option ' .. a .. ' needs a value') end
      if NUM[key] == 'int' then
        o[key] = math.tointeger(tonumber(val))
        if not o[key] or o[key] < 1 then fail('option ' .. a .. ' expects a positive integer, got ' .. val) end
      elseif NUM[key] then
        o[key] = tonumber(val)
        if not o[key] then fail('option ' .. a .. ' expects a number, got ' .. val) end
      else
        o[key] = val
      end
      i = i + 2
    end
  end
  if o.quick then o.epochs = 1 end
  return o
end

local Net = nn.Module:extend('FashionCNN')

function Net:init()
  self.features = nn.Sequential(
    nn.Conv2d(1, 32, 3, { padding = 1 }), nn.BatchNorm2d(32), nn.ReLU(), nn.MaxPool2d(2),
    nn.Conv2d(32, 64, 3, { padding = 1 }), nn.BatchNorm2d(64), nn.ReLU(), nn.MaxPool2d(2))
  self.classifier = nn.Sequential(
    nn.Flatten(), nn.Linear(64 * 7 * 7, 128), nn.ReLU(), nn.Dropout(0.25), nn.Linear(128, 10))
end

function Net:forward(x)
  return self.classifier(self.features(x))
end

local function subset(set, n)
  if n >= set.x:size(1) then return set end
  return { x = set.x:narrow(1, 1, n), y = set.y:narrow(1, 1, n), n = n }
end

local function images(x) return x:view(x:size(1), 1, 28, 28) end

local function accuracy(model, loader)
  model:eval()
  local correct, n = 0, 0
  gb.no_grad(function()
    for x, y in loader() do
      correct = correct + model(images(x)):argmax(2):eq(y):sum():item()
      n = n + y:numel()
    end
  end)
  model:train()
  return correct / n
end

local o = parse_args(arg)
if o.device then gb.set_default_device(o.device) end
gb.manual_seed(o.seed)
local train_set = data.mnist(o.data, 'train')
local test_set = data.mnist(o.data, 'test')
if o.quick then train_set, test_set = subset(train_set, 2000), subset(test_set, 1000) end

local model = Net()
local opt = optim.Adam(model:parameters(), { lr = o.lr })
local loss_fn = nn.CrossEntropyLoss()
local train_loader = data.DataLoader(train_set, { batch_size = o.batch, shuffle = true })
local test_loader = data.DataLoader(test_set, { batch_size = o.eval_batch })
print(('cnn_fashion: %d train / %d test images, %d parameters, batch %d, %d epoch(s), seed %d')
  :format(train_set.x:size(1), test_set.x:size(1), model:num_parameters(), o.batch, o.epochs, o.seed))

local train_wall, train_cpu, train_seen = 0, 0, 0
for epoch = 1, o.epochs do
  local t0, seen, total, steps = os.clock(), 0, 0, 0
  local w0 = gb.time()
  for x, y in train_loader() do
    local loss = loss_fn(model(images(x)), y)
    opt:zero_grad()
    loss:backward()
    opt:step()
    total, steps, seen = total + loss:item(), steps + 1, seen + y:numel()
  end
  local cpu = os.clock() - t0
  local wall = gb.time() - w0
  train_wall, train_cpu, train_seen = train_wall + wall, train_cpu + cpu, train_seen + seen
  print(('epoch %d: train loss %.4f, %.0f samples/s (wall), %.1f s CPU'):format(
    epoch, total / steps, seen / math.max(wall, 1e-9), cpu))
end
local acc = accuracy(model, test_loader)
-- for scripts/bench/run.py (g)
print(('BENCH train_samples_per_s %.1f'):format(train_seen / math.max(train_wall, 1e-9)))
print(('BENCH cpu_s %.2f'):format(train_cpu))
print(('BENCH test_accuracy %.4f'):format(acc))
print(('test accuracy: %.4f'):format(acc))
