-- dist_spec.lua (gpu) — gb.distributed's NCCL path at world size 1 (one rank per GPU: no
-- launcher needed): all_reduce (sum, mean, max, min), broadcast and all_gather on cuda
-- tensors against hand values, ordered with the kernels on the state's stream; and a
-- DistributedDataParallel step on cuda that leaves the gradients as a plain backward does
-- (each .grad a view into its cuda bucket).
-- Run through tests/gpu/run_spec.lua (skips without a GPU); skips itself when the build has
-- no NCCL part (nccl.h not found).

local gb = require('gpubp')
local d = gb.distributed

local ok, build = d.is_available()
local has_nccl = ok and build:find('nccl', 1, true) ~= nil

describe('gb.distributed on cuda (NCCL, world size 1)', function()
  if not has_nccl then
    it('needs a build with the NCCL part', function()
      print('skip: ' .. tostring(build))
    end)
    return
  end

  setup(function() d.init({ backend = 'nccl', timeout = 30 }) end)
  teardown(function() d.finalize() end)

  it('all_reduce on a cuda tensor, in place, after and before kernels on the stream', function()
    assert.are.equal(1, d.world_size())
    local t = (gb.arange(1, 5):to('cuda') * 2) -- a kernel queued before the collective
    d.all_reduce(t, 'sum')
    assert.are.same({ 2, 4, 6, 8 }, (t + 0):cpu():totable())
    for _, op in ipairs({ 'mean', 'max', 'min' }) do
      local u = gb.tensor({ -1.5, 3 }):cuda()
      d.all_reduce(u, op)
      assert.are.same({ -1.5, 3 }, u:cpu():totable())
    end
    local ints = gb.tensor({ 7, -7 }, { dtype = 'int64' }):cuda()
    d.all_reduce(ints, 'max')
    assert.are.same({ 7, -7 }, ints:cpu():totable())
  end)

  it('broadcast and all_gather on cuda', function()
    local t = gb.tensor({ 5, 6 }):cuda()
    d.broadcast(t, 1)
    assert.are.same({ 5, 6 }, t:cpu():totable())
    local parts = d.all_gather(gb.tensor({ { 1, 2 } }):cuda())
    assert.are.equal(1, #parts)
    assert.are.equal(t.device, parts[1].device)
    assert.are.same({ { 1, 2 } }, parts[1]:cpu():totable())
  end)

  it('DistributedDataParallel on cuda gives the plain gradients at world size 1', function()
    gb.manual_seed(3)
    local net = gb.nn.Linear(6, 3):cuda()
    local ref = gb.nn.Linear(6, 3):cuda()
    ref:load_state_dict(net:state_dict())
    local ddp = gb.nn.DistributedDataParallel(net, { bucket_mb = 0.0001 })
    local x = gb.randn(4, 6):cuda()
    ddp(x):pow(2):sum():backward()
    ref(x):pow(2):sum():backward()
    local diff = (net.weight.grad - ref.weight.grad):abs():max():item()
    assert.is_true(diff < 1e-6, 'gradient difference ' .. diff)
    -- each .grad is the bucket view itself, on the cuda device
    for _, b in ipairs(rawget(ddp, '_ddp').buckets) do
      for k, p in ipairs(b.params) do
        assert.is_true(gb._dist.grad_is(p, b.views[k]), 'a .grad is not its bucket view')
        assert.are.equal(p.device, p.grad.device)
      end
    end
  end)
end)
