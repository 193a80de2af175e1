-- vanishing_gradients.lua — a 10-layer sigmoid MLP on MNIST: GradMonitor flags vanishing
-- gradients (layer 1's gradient is ~1e-8 of the last layer's) and it barely learns; the same
-- depth with ReLU, BatchNorm and Kaiming init trains, and the monitor stays silent.
--   build/gpubp scripts/examples/vanishing_gradients.lua [--data DIR] [--steps N]
-- Prints one line per model: `<name>: warnings <n>, layer-1/last norm ratio <r>, test accuracy <a>`.

local gb = require('gpubp')
local nn, optim, data = gb.nn, gb.optim, gb.data

local dir, steps = os.getenv('GPUBP_DATA') or 'data/mnist', 200
local i = 1
while arg and arg[i] do
  if arg[i] == '--data' then dir = arg[i + 1] i = i + 2
  elseif arg[i] == '--steps' then steps = math.tointeger(tonumber(arg[i + 1])) i = i + 2
  else error('usage: vanishing_gradients.lua [--data DIR] [--steps N]', 0) end
end

local function deep(act, bn, kaiming)
  local layers = { nn.Linear(784, 64) }
  for k = 1, 9 do
    if bn then layers[#layers + 1] = nn.BatchNorm1d(64) end
    layers[#layers + 1] = act()
    layers[#layers + 1] = nn.Linear(64, k == 9 and 10 or 64)
  end
  local net = nn.Sequential(table.unpack(layers))
  if kaiming then
    for _, m in ipairs(net:modules()) do
      if m.class_name(m) == 'Linear' then nn.init.kaiming_normal_(m.weight, 0, 'fan_in', 'relu') end
    end
  end
  return net
end

local train, test = data.mnist(dir, 'train'), data.mnist(dir, 'test')

local function run(name, net)
  gb.manual_seed(1)
  local mon = nn.utils.GradMonitor(net)
  local opt = optim.SGD(net:parameters(), { lr = 0.1, momentum = 0.9 })
  local crit = nn.CrossEntropyLoss()
  local loader = data.DataLoader(train, { batch_size = 100, shuffle = true })
  local warnings, n = 0, 0
  local bar = gb.utils.progress(steps, { desc = name, monitor = mon })
  while n < steps do
    for x, y in loader() do
      opt:zero_grad()
      local loss = crit(net(x), y)
      loss:backward()
      if #mon:check() > 0 then warnings = warnings + 1 end
      opt:step()
      n = n + 1
      bar:update(1, { loss = loss })
      if n == steps then break end
    end
  end
  bar:close()
  local norms = mon:norms()
  net:eval()
  local acc = gb.no_grad(function() return net(test.x):argmax(2):eq(test.y):sum():item() / test.n end)
  print(string.format('%s: warnings %d, layer-1/last norm ratio %.3g, test accuracy %.4f', name,
    warnings, norms[1].norm / norms[#norms].norm, acc))
end

gb.manual_seed(1)
run('sigmoid', deep(nn.Sigmoid, false, false))
gb.manual_seed(1)
run('relu+batchnorm', deep(nn.ReLU, true, true))
