-- collectives_spec.lua — gb.distributed's collectives against values computed by hand, on
-- every rank of a 2-rank (or larger) run, and the errors of misuse: mismatched shapes and
-- dtypes across ranks (named on every rank, and the group stays usable), bad arguments.
-- Run (tests/dist/CMakeLists.txt): mpirun --oversubscribe -np 2 build/gpubp --device cpu
--   /usr/bin/busted tests/dist/collectives_spec.lua
-- Every rank runs the same its in the same order, so the collectives pair up.

local gb = require('gpubp')
local d = gb.distributed

local function values(t) return t:totable() end

describe('gb.distributed collectives', function()
  setup(function() d.init({ timeout = 20 }) end)

  it('numbers ranks 1..N', function()
    local r, n = d.rank(), d.world_size()
    assert.is_true(n >= 2, 'run this spec with mpirun -np 2 (or more)')
    assert.is_true(r >= 1 and r <= n)
    assert.is_true(d.is_initialized())
    -- every rank saw a different rank number: their sum is 1 + ... + n
    local t = gb.tensor({ r }, { dtype = 'int64' })
    d.all_reduce(t)
    assert.are.same({ n * (n + 1) // 2 }, values(t))
  end)

  it('float64: all_reduce, broadcast and all_gather keep double precision', function()
    local r, n = d.rank(), d.world_size()
    local sum_r = n * (n + 1) / 2
    -- 1 + 1e-12 r rounds to 1 in float32: only a double sum keeps the 1e-12 terms
    local t = gb.tensor({ 1 + 1e-12 * r, -r }, { dtype = 'float64' })
    d.all_reduce(t, 'sum')
    assert.are.equal('float64', t.dtype)
    local v = t:totable()
    assert.is_true(math.abs(v[1] - (n + 1e-12 * sum_r)) < 1e-14, string.format('%.17g', v[1]))
    assert.are.equal(-sum_r, v[2])
    local m = gb.tensor({ r / 3 }, { dtype = 'float64' })
    d.all_reduce(m, 'mean')
    assert.is_true(math.abs(m:item() - sum_r / (3 * n)) < 1e-15)
    local b = d.broadcast(gb.tensor({ 1 / (3 * r) }, { dtype = 'float64' }), 1)
    assert.are.equal(1 / 3, b:item())
    local g = d.all_gather(gb.tensor({ 1e-12 * r }, { dtype = 'float64' }))
    assert.are.equal('float64', g[n].dtype)
    assert.are.equal(1e-12 * n, g[n]:item())
  end)

  it('all_reduce sums, averages, takes max and min, in place', function()
    local r, n = d.rank(), d.world_size()
    local sum_r, sum_sq = n * (n + 1) / 2, n * (n + 1) * (2 * n + 1) / 6
    local t = gb.tensor({ { r, -2 * r }, { r * r, 0.5 } })
    local same = d.all_reduce(t, 'sum')
    assert.are.equal(t, same)
    assert.are.same({ { sum_r, -2 * sum_r }, { sum_sq, 0.5 * n } }, values(t))
    local m = gb.tensor({ r, 3 })
    d.all_reduce(m, 'mean')
    assert.are.same({ sum_r / n, 3 }, values(m))
    local mx = gb.tensor({ r, -r }, { dtype = 'int32' })
    d.all_reduce(mx, 'max')
    assert.are.same({ n, -1 }, values(mx))
    local mn = gb.tensor({ r, -r }, { dtype = 'int64' })
    d.all_reduce(mn, 'min')
    assert.are.same({ 1, -n }, values(mn))
  end)

  it('all_reduce of an empty tensor and of a view', function()
    local e = gb.zeros(0)
    d.all_reduce(e)
    assert.are.equal(0, e:numel())
    local big = gb.tensor({ { 1, 2 }, { 3, 4 } })
    local row = big[2] -- contiguous view: the reduction lands in big
    d.all_reduce(row)
    local n = d.world_size()
    assert.are.same({ { 1, 2 }, { 3 * n, 4 * n } }, values(big))
  end)

  it('broadcast copies the root rank everywhere (root defaults to 1)', function()
    local r, n = d.rank(), d.world_size()
    local t = gb.tensor({ r, 10 * r, 100 * r })
    d.broadcast(t)
    assert.are.same({ 1, 10, 100 }, values(t))
    local u = gb.tensor({ { r } }, { dtype = 'int64' })
    d.broadcast(u, n)
    assert.are.same({ { n } }, values(u))
  end)

  it('all_gather returns every rank tensor in rank order', function()
    local r, n = d.rank(), d.world_size()
    local parts = d.all_gather(gb.tensor({ { r, r * r } }))
    assert.are.equal(n, #parts)
    for k = 1, n do
      assert.are.same({ 1, 2 }, parts[k].shape)
      assert.are.same({ { k, k * k } }, values(parts[k]))
    end
    local ints = d.all_gather(gb.tensor({ -r }, { dtype = 'int32' }))
    assert.are.equal('int32', ints[1].dtype)
    assert.are.same({ -n }, values(ints[n]))
  end)

  it('barrier returns on every rank', function()
    d.barrier()
    d.barrier()
  end)

  it('names mismatched shapes on every rank and stays usable', function()
    local r = d.rank()
    local ok, err = pcall(d.all_reduce, gb.zeros(2, r + 1))
    assert.is_false(ok)
    assert.matches('distributed: collective #%d+ does not match across ranks: rank 1 called '
      .. '#%d+ all_reduce%(sum%) float32 %(2,2%), rank 2 called #%d+ all_reduce%(sum%) float32 '
      .. '%(2,3%)', err)
    assert.matches('collectives_spec.lua:%d+: distributed: ', err)
    local t = gb.ones(2)
    d.all_reduce(t)
    assert.are.same({ d.world_size(), d.world_size() }, values(t))
  end)

  it('names mismatched dtypes and kinds', function()
    local r = d.rank()
    local ok, err = pcall(d.all_reduce, gb.zeros(3, { dtype = r == 1 and 'float32' or 'int64' }))
    assert.is_false(ok)
    assert.matches('rank 1 called #%d+ all_reduce%(sum%) float32 %(3%), rank 2 called #%d+ '
      .. 'all_reduce%(sum%) int64 %(3%)', err)
    ok, err = pcall(function()
      if r == 1 then d.broadcast(gb.zeros(3)) else d.all_reduce(gb.zeros(3), 'max') end
    end)
    assert.is_false(ok)
    assert.matches('rank 1 called #%d+ broadcast%(root 1%) float32 %(3%), rank 2 called #%d+ '
      .. 'all_reduce%(max%) float32 %(3%)', err)
  end)

  it('refuses bad arguments before any rank waits', function()
    assert.has_error(function() d.all_reduce(gb.zeros(2), 'prod') end,
      "distributed.all_reduce: op must be 'sum', 'mean', 'max' or 'min', got 'prod'")
    assert.has_error(function() d.all_reduce({}) end,
      'distributed.all_reduce: expected a tensor, got table')
    local ok, err = pcall(d.all_reduce, gb.zeros(2, { dtype = 'int32' }), 'mean')
    assert.is_false(ok)
    assert.matches("'mean' needs a float32 or float64 tensor, got int32", err)
    ok, err = pcall(d.broadcast, gb.zeros(2), d.world_size() + 1)
    assert.is_false(ok)
    assert.matches('broadcast: root 3 is not a rank %(1..2%)', err)
    ok, err = pcall(d.all_reduce, gb.zeros(3, 2):t())
    assert.is_false(ok)
    assert.matches('the tensor must be contiguous', err)
    -- and the group still works
    d.barrier()
  end)

  it('finalize ends the group; later calls say so', function()
    d.finalize()
    assert.is_false(d.is_initialized())
    local ok, err = pcall(d.rank)
    assert.is_false(ok)
    assert.matches('distributed.rank: call gb.distributed.init%(%) first', err)
    d.finalize() -- twice is fine
  end)
end)
