-- metamethod_uaf_spec.lua — issue 19, item 3: a script must not be able to free a tensor
-- that a binding is using. The metatable is hidden (getmetatable answers false), and the
-- bindings read every option table (whose __index runs Lua code) and every metadata value
-- (whose string metatable may carry a __tostring) before they take tensor pointers. The
-- closing tricks use `<close>` (needs no debug library) and debug.getmetatable.
local gb = require 'gpubp'
local H = dofile('tests/hostile/support.lua')

-- An options table whose every read closes t: through a to-be-closed variable ...
local function closing_opts(t)
  return setmetatable({}, {__index = function() do local c <close> = t end end})
end
-- ... or by calling the hidden __close directly.
local function closing_opts_debug(t)
  return setmetatable({}, {__index = function() debug.getmetatable(t).__close(t) end})
end

describe('the tensor metatable', function()
  it('is hidden from getmetatable, so __gc and __close are out of reach', function()
    local t = gb.ones(2)
    assert.is_false(getmetatable(t))
    assert.are.equal('attempt to index a boolean value', H.err_of(function()
      return getmetatable(t).__close(t)
    end))
    assert.are.equal(2, t:sum():item())
  end)
end)

describe('an option table that closes the tensor being used', function()
  for name, make in pairs({['<close>'] = closing_opts, ['debug.getmetatable'] = closing_opts_debug}) do
    it('in backward (' .. name .. ') is a clean error', function()
      local x = gb.ones(3, {requires_grad = true})
      local y = (x * 2):sum()
      assert.are.equal("calling 'backward' on bad self (tensor was closed)",
        H.err_of(function() y:backward(make(y)) end))
      assert.is_nil(x.grad)
      assert.is_true(H.still_computes())
    end)

    it('in *_like (' .. name .. ') is a clean error', function()
      local a = gb.ones(2, 2)
      assert.are.equal("bad argument #1 to 'zeros_like' (tensor was closed)",
        H.err_of(function() return gb.zeros_like(a, make(a)) end))
      local b = gb.ones(2, 2)
      assert.are.equal("bad argument #1 to 'full_like' (tensor was closed)",
        H.err_of(function() return gb.full_like(b, 3, make(b)) end))
      assert.is_true(H.still_computes())
    end)

    it('in addmm (' .. name .. ') is a clean error', function()
      local bias, m, w = gb.ones(2), gb.ones(2, 3), gb.ones(3, 2)
      assert.are.equal("bad argument #2 to 'addmm' (tensor was closed)",
        H.err_of(function() return gb.addmm(bias, m, w, make(m)) end))
      assert.is_true(H.still_computes())
    end)
  end

  it('answering a table for every option is a clean error (it crashed in strcmp)', function()
    local odd = setmetatable({}, {__index = function() return {} end})
    assert.are.equal("zeros: option 'dtype' expects a string, got table",
      H.err_of(function() return gb.zeros(2, odd) end))
    assert.are.equal("zeros_like: option 'dtype' expects a string, got table",
      H.err_of(function() return gb.zeros_like(gb.ones(2), odd) end))
    assert.is_true(H.still_computes())
  end)

  it('leaves the options working when they are honest', function()
    local x = gb.ones(3, {requires_grad = true})
    local y = (x * 2):sum()
    y:backward(setmetatable({}, {__index = function(_, k) return k == 'retain_graph' end}))
    y:backward()
    assert.are.same({4, 4, 4}, x.grad:totable())
    local z = gb.zeros_like(gb.ones(2), setmetatable({}, {__index = {dtype = 'int64'}}))
    assert.are.equal('int64', z.dtype)
    local r = gb.addmm(gb.zeros(1), gb.ones(1, 2), gb.ones(2, 1),
      setmetatable({}, {__index = {alpha = 3}}))
    assert.are.equal(6, r:item())
  end)
end)

describe('a gradient hook that closes tensors backward is using', function()
  it('leaves backward whole: the gradient is right, the closed tensors are closed', function()
    local x = gb.ones(3, {requires_grad = true})
    local h = x * 2
    local y = (h * h):sum()
    x:register_hook(function()
      do local c <close> = y end
      do local d <close> = h end
    end)
    y:backward()
    assert.are.same({8, 8, 8}, x.grad:totable()) -- d/dx sum((2x)^2) = 8x
    assert.are.equal("bad argument #1 to 'index' (tensor was closed)",
      H.err_of(function() return y:sum() end))
    assert.is_true(H.still_computes())
  end)
end)

describe('a graph recording released from Lua code it runs', function()
  it('cannot be released while it records', function()
    local rec = gb._graph_new()
    assert.are.equal('graph: cannot release a recording while it records or patches',
      H.err_of(function() rec:record(function() rec:release() end) end))
    rec:release()
    assert.is_true(H.still_computes())
  end)

  it('is looked up again after a patch table ran Lua code that released it', function()
    local rec = gb._graph_new()
    local x = gb.ones(2)
    rec:record(function() return x * 2 end)
    assert.is_true(rec:size() >= 1)
    local evil = setmetatable({}, {__index = function() rec:release() end})
    assert.are.equal('graph: the recording was released',
      H.err_of(function() rec:patch(1, evil) end))
    assert.is_true(H.still_computes())
  end)
end)

describe('gb.save with a hostile string metatable', function()
  local dir
  before_each(function() dir = H.tmpdir() end)
  after_each(function()
    getmetatable('').__tostring = nil
    H.rmdir(dir)
  end)

  it('converts metadata without running __tostring, before taking tensor pointers', function()
    local s = gb.arange(1, 5)
    local calls = 0
    getmetatable('').__tostring = function() calls = calls + 1; do local c <close> = s end end
    assert.is_true(gb.save(dir .. '/m.safetensors', {s = s}, {k = 'v', n = 3, b = true}))
    getmetatable('').__tostring = nil
    assert.are.equal(0, calls)
    local tensors, meta = gb.load(dir .. '/m.safetensors')
    assert.are.same({1, 2, 3, 4}, tensors.s:totable())
    assert.are.same({k = 'v', n = '3', b = 'true'}, meta)
    assert.are.same({1, 2, 3, 4}, s:totable())
  end)
end)
