-- cnn_step.lua — CPU time per training step of the CNN recipe's model (scripts/examples/
-- cnn_fashion.lua: Conv2d-BatchNorm2d-ReLU-MaxPool2d twice, Linear-ReLU-Dropout-Linear, Adam)
-- on one fixed batch of 64, without data loading: the kernels' cost alone. The PyTorch twin
-- is scripts/bench/cnn_step_torch.py; run them alternately and compare the CPU lines.
--   build/gpubp scripts/bench/cnn_step.lua [steps=60] [conv=auto|off|always]
-- `conv` is gb._conv_dnnl's mode (off: the rows' own kernels, not oneDNN).
local gb = require('gpubp')
local nn, optim = gb.nn, gb.optim
gb.manual_seed(1)
local steps = tonumber(arg[1] or 60)
if arg[2] then gb._conv_dnnl(arg[2]) end
local model = nn.Sequential(
    nn.Conv2d(1, 32, 3, { padding = 1 }), nn.BatchNorm2d(32), nn.ReLU(), nn.MaxPool2d(2),
    nn.Conv2d(32, 64, 3, { padding = 1 }), nn.BatchNorm2d(64), nn.ReLU(), nn.MaxPool2d(2),
    nn.Flatten(), nn.Linear(64 * 7 * 7, 128), nn.ReLU(), nn.Dropout(0.25), nn.Linear(128, 10))
local opt = optim.Adam(model:parameters(), { lr = 1e-3 })
local loss_fn = nn.CrossEntropyLoss()
local x = gb.randn(64, 1, 28, 28)
local yt = {} for i = 1, 64 do yt[i] = (i - 1) % 10 + 1 end local y = gb.tensor(yt, "int64")
for i = 1, 5 do local l = loss_fn(model(x), y) opt:zero_grad() l:backward() opt:step() end
local t0, w0 = os.clock(), gb.time()
for i = 1, steps do
  local l = loss_fn(model(x), y) opt:zero_grad() l:backward() opt:step()
  l:item()
end
local c, w = os.clock() - t0, gb.time() - w0
print(('%d steps: %.3f ms CPU/step, %.3f ms wall/step, %.1f us CPU/sample'):format(steps, c*1e3/steps, w*1e3/steps, c*1e6/(steps*64)))
