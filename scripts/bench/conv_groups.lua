-- conv_groups.lua — CPU time of one grouped 3x3 convolution layer (64 -> 64 channels, padding 1)
-- on (32, 64, 28, 28): forward alone, then forward + backward, per pass. The PyTorch twin is
-- scripts/bench/conv_groups_torch.py; run them alternately and compare the CPU numbers.
--   build/gpubp scripts/bench/conv_groups.lua [groups=64] [conv=auto|off|always]
-- `conv` is gb._conv_dnnl's mode (off: the rows' own kernels, always: oneDNN).
local gb = require('gpubp')
local groups = tonumber(arg[1] or 64)
if arg[2] then gb._conv_dnnl(arg[2]) end
gb.manual_seed(1)
local c = gb.nn.Conv2d(64, 64, 3, { padding = 1, groups = groups })
local x = gb.randn(32, 64, 28, 28):requires_grad_()
local function fwd() return c(x) end
local function step() c(x):sum():backward() end
for _ = 1, 3 do step() end
local t0 = os.clock()
for _ = 1, 10 do gb.no_grad(fwd) end
local tf = (os.clock() - t0) * 1e3 / 10
t0 = os.clock()
for _ = 1, 10 do step() end
print(('groups %d, conv %s: forward %.2f ms CPU, forward+backward %.2f ms CPU'):format(groups,
  arg[2] or 'auto', tf, (os.clock() - t0) * 1e3 / 10))
