-- api_fuzz_spec.lua — calls every gb function and tensor method with random arguments from
-- a pool of awkward values (nil, negative and huge sizes, wrong types, empty, non-contiguous,
-- integer and grad-requiring tensors). Each call may raise a Lua error; none may crash the
-- host, and the runtime must still compute afterwards. The sanitizer build runs it too.
local gb = require 'gpubp'

local pool = {
  function() return nil end, function() return 0 end, function() return 1 end,
  function() return -1 end, function() return 2 end, function() return 3 end,
  function() return 1e12 end, function() return 0.5 end, function() return -7 end,
  function() return 'float32' end, function() return 'int64' end, function() return 'cuda' end,
  function() return 'x' end, function() return {} end, function() return {2, 3} end,
  function() return {{1, 2}, {3, 4}} end, function() return true end,
  -- tensors from here on (receivers of methods are drawn from these)
  function() return gb.ones(2, 3) end, function() return gb.zeros(3) end,
  function() return gb.tensor(2.5) end, function() return gb.arange(6):view(2, 3):t() end,
  function() return gb.ones(2, 3, {dtype = 'int64'}) end, function() return gb.zeros(0, 3) end,
  function() return gb.randn(2, 3, 4) end, function() return gb.ones(2, 3, {requires_grad = true}) end,
  function() return gb.ones(1, 1, 4, 4) end, function() return gb.tensor({1, 2}, {dtype = 'int64'}) end,
}
local FIRST_TENSOR = 18

-- state-changing functions are left out: they would make later calls depend on order
local skip = {manual_seed = true, set_default_device = true, set_detect_anomaly = true, save = true,
              set_grad_enabled = true, set_rng_state = true, no_grad = true, enable_grad = true,
              release_cache = true}

local function callables()
  local list = {}
  for k, v in pairs(gb) do
    if type(v) == 'function' and not skip[k] then list[#list + 1] = {false, k, v} end
  end
  for k, v in pairs(gb._tensor_methods) do list[#list + 1] = {true, k, v} end
  table.sort(list, function(a, b) return tostring(a[1]) .. a[2] < tostring(b[1]) .. b[2] end)
  return list
end

describe('random API calls', function()
  it('raise Lua errors at worst, never crash, and leave the runtime working', function()
    local list = callables()
    local calls, raised = 0, 0
    for seed = 1, 4 do
      math.randomseed(seed)
      for _ = 1, 600 do
        local e = list[math.random(#list)]
        local args, n = {}, math.random(0, 4)
        if e[1] then n = n + 1; args[1] = pool[math.random(FIRST_TENSOR, #pool)]() end
        for i = #args + 1, n do args[i] = pool[math.random(#pool)]() end
        local ok = pcall(e[3], table.unpack(args, 1, n))
        calls, raised = calls + 1, raised + (ok and 0 or 1)
      end
    end
    assert.is_true(raised > 0 and raised < calls, ('%d of %d calls raised'):format(raised, calls))
    assert.are.equal(6, gb.ones(2, 3):sum():item())
    local x = gb.ones(3, {requires_grad = true})
    ;(x * x):sum():backward()
    assert.are.same({2, 2, 2}, x.grad:totable())
  end)
end)
