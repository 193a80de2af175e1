-- lr_find_mnist.lua — the learning-rate range test on MNIST with the seed MLP (784-128-10,
-- SGD): gb.optim.lr_find suggests an lr and plots the curve, then two epochs at that lr
-- with a progress meter and a Logger chart.
--   build/gpubp scripts/examples/lr_find_mnist.lua [--data DIR] [--plot lr.svg] [--log run.csv]
-- Prints `suggested lr <x>` and ends with `test accuracy: <a>`.

local gb = require('gpubp')
local nn, optim, data, utils = gb.nn, gb.optim, gb.data, gb.utils

local o = { data = os.getenv('GPUBP_DATA') or 'data/mnist', plot = 'lr_find.svg', log = nil, epochs = 2 }
local i = 1
while arg and arg[i] do
  local k = arg[i]:match('^%-%-(%w+)$')
  if not k or o[k] == nil and k ~= 'log' then
    error('usage: lr_find_mnist.lua [--data DIR] [--plot FILE.svg] [--log FILE.csv] [--epochs N]', 0)
  end
  o[k] = k == 'epochs' and math.tointeger(tonumber(arg[i + 1])) or arg[i + 1]
  i = i + 2
end

gb.manual_seed(1)
local train, test = data.mnist(o.data, 'train'), data.mnist(o.data, 'test')
local loader = data.DataLoader(train, { batch_size = 100, shuffle = true })
local net = nn.Sequential(nn.Linear(784, 128), nn.ReLU(), nn.Linear(128, 10))
local crit = nn.CrossEntropyLoss()
nn.utils.summary(net, { 100, 784 })

local res = optim.lr_find(net, crit, loader, { start_lr = 1e-5, end_lr = 10, plot = o.plot })
print(string.format('suggested lr %.3g (valley %.3g .. %.3g, minimum at %.3g); curve in %s',
  res.suggestion, res.valley[1], res.valley[2], res.min_lr, o.plot))

local opt = optim.SGD(net:parameters(), { lr = res.suggestion })
local log = utils.Logger(o.log)
for epoch = 1, o.epochs do
  local bar = utils.progress(loader, { desc = 'epoch ' .. epoch })
  for x, y in bar do
    opt:zero_grad()
    local loss = crit(net(x), y)
    loss:backward()
    opt:step()
    bar:set({ loss = loss })
    log:log({ loss = loss, lr = opt.param_groups[1].lr })
  end
  local acc = gb.no_grad(function() return net(test.x):argmax(2):eq(test.y):sum():item() / test.n end)
  log:log_epoch({ test_accuracy = acc })
  print(string.format('epoch %d: test accuracy %.4f', epoch, acc))
end
log:close()
local chart = o.plot:gsub('%.svg$', '') .. '_training.svg'
log:plot(chart, { title = string.format('seed MLP, SGD lr %.3g from lr_find', res.suggestion) })
local acc = log.rows[#log.rows].values.test_accuracy
print(string.format('training chart in %s', chart))
print(string.format('test accuracy: %.4f', acc))
