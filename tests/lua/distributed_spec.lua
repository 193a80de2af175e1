-- distributed_spec.lua — gb.distributed in one process with no launcher: what a script gets
-- before init (clear errors, no MPI loaded), option errors, and is_available's answer. The
-- collectives themselves run under mpirun in tests/dist/ (label mpi).
-- Run: build/gpubp /usr/bin/busted tests/lua/distributed_spec.lua

local gb = require('gpubp')
local d = gb.distributed

local support = dofile('tests/lua/support.lua')
local gpubp_binary, quote = support.gpubp_binary, support.quote

local function sh(cmd)
  local p = assert(io.popen(cmd .. ' 2>&1'))
  local out = p:read('a')
  p:close()
  return out
end

describe('gb.distributed before init', function()
  it('is not initialized, and collectives say to call init first', function()
    assert.is_false(d.is_initialized())
    for _, call in ipairs({
      { 'rank' }, { 'world_size' }, { 'barrier' },
      { 'all_reduce', gb.zeros(2) }, { 'broadcast', gb.zeros(2) }, { 'all_gather', gb.zeros(2) },
    }) do
      local ok, err = pcall(d[call[1]], call[2])
      assert.is_false(ok)
      local ok_avail = d.is_available()
      if ok_avail then
        assert.matches('distributed_spec.lua:%d+: distributed%.' .. call[1]
          .. ': call gb%.distributed%.init%(%) first$', err)
      else
        assert.matches('distributed%.' .. call[1] .. ': distributed support is unavailable', err)
      end
    end
  end)

  it('a run that does not call it maps neither the plugin nor MPI', function()
    local out = sh(quote(gpubp_binary()) .. ' --device cpu -e ' .. quote(
      "local x = gb.randn(4, 3, {requires_grad = true}); (x * 2):sum():backward()\n"
      .. "local m = io.open('/proc/self/maps'):read('a')\n"
      .. "print('plugin=' .. tostring(m:find('libgpubp_dist', 1, true) ~= nil))\n"
      .. "print('mpi=' .. tostring(m:find('libmpi', 1, true) ~= nil))"))
    assert.truthy(out:find('plugin=false', 1, true), out)
    assert.truthy(out:find('mpi=false', 1, true), out)
  end)

  it('is reported by gpubp -v', function()
    local ok, what = d.is_available()
    local v = sh(quote(gpubp_binary()) .. ' -v')
    if ok then
      assert.truthy(v:find('distributed: ' .. what, 1, true), v)
    else
      assert.truthy(v:find('distributed: unavailable: ', 1, true), v)
    end
  end)

  it('answers is_available with a build string or a reason', function()
    local ok, what = d.is_available()
    assert.is_boolean(ok)
    assert.is_string(what)
    if ok then assert.matches('^mpi %(', what) else assert.matches('libgpubp_dist', what) end
  end)

  it('checks init options before starting anything', function()
    assert.has_error(function() d.init({ backend = 'gloo' }) end,
      "distributed.init: backend must be 'mpi' or 'nccl', got 'gloo'")
    assert.has_error(function() d.init({ timeout = -1 }) end,
      'distributed.init: timeout must be > 0 seconds, got -1')
    local ok, err = pcall(d.init, { timout = 5 })
    assert.is_false(ok)
    assert.matches("distributed.init: unknown option 'timout'", err)
    assert.is_false(d.is_initialized())
  end)

  it('checks collective arguments in Lua before the plugin', function()
    assert.has_error(function() d.all_reduce(gb.zeros(2), 'avg') end,
      "distributed.all_reduce: op must be 'sum', 'mean', 'max' or 'min', got 'avg'")
    assert.has_error(function() d.broadcast(gb.zeros(2), 1.5) end,
      'distributed.broadcast: root must be an integer rank, got 1.5')
    assert.has_error(function() d.all_gather(3) end, 'distributed.all_gather: expected a tensor, got number')
  end)
end)
