-- untrusted_train.lua — a training script as a customer might upload it, run by
-- examples/embed_sandbox_train.c inside a sandbox with budgets. It sees the host's data as
-- X (float32, wrapped without a copy) and Y (int64 labels 1..K), trains an MLP, and
-- reports its loss through gb.utils.Logger, which hands every scalar to the host's metrics
-- hook. It can also call the host's `host_log`. Files, processes and C modules are out of
-- its reach (try: os.execute('id') fails with "os.execute: not available in the sandbox").
local nn = gb.nn
local steps = tonumber(STEPS) or 150
local K = Y:max():item()

local net = nn.Sequential(nn.Linear(X:size(2), 32), nn.Tanh(), nn.Linear(32, K))
local opt = gb.optim.Adam(net:parameters(), { lr = 0.02 })
local criterion = nn.CrossEntropyLoss()
local log = gb.utils.Logger()

for step = 1, steps do
  opt:zero_grad()
  local loss = criterion(net(X), Y)
  loss:backward()
  opt:step()
  log:log({ loss = loss:item() })
end

local pred = net(X):argmax(2)
accuracy = pred:eq(Y):float():mean():item()
log:log_epoch({ accuracy = accuracy })
host_log(string.format('trained %d steps, accuracy %.3f', steps, accuracy))
