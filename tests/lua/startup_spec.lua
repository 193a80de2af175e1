-- startup_spec.lua — start-up loads only what a script uses: `require 'gpubp'` reads the package
-- index files, not the ~50 class files of nn/optim/data/utils, and the CPU BLAS (OpenBLAS,
-- opened with dlopen by runtime/cpu/gb_blas.c) is mapped only at the first product. Lazy
-- entries still behave as plain fields: indexing loads them once, pairs() lists them all.
-- Run: build/gpubp /usr/bin/busted tests/lua/startup_spec.lua

local support = dofile('tests/lua/support.lua')
local gpubp_binary = support.gpubp_binary

local quote = support.quote

-- runs Lua code in a fresh gpubp process and returns its output
local function fresh(code)
  local p = assert(io.popen(quote(gpubp_binary()) .. ' --device cpu -e ' .. quote(code) .. ' 2>&1'))
  local out = p:read('a')
  local ok = p:close()
  assert.is_true(ok, out)
  return out
end

local BLAS_MAPPED = "print('blas=' .. tostring(io.open('/proc/self/maps'):read('a'):find('libopenblas', 1, true) ~= nil))"
local DNNL_MAPPED = "print('dnnl=' .. tostring(io.open('/proc/self/maps'):read('a'):find('libdnnl', 1, true) ~= nil))"

describe('start-up', function()
  it('loads no class file until a class is used', function()
    local out = fresh([[
      local n = 0
      for name in pairs(package.loaded) do
        if name:match('^gpubp%.nn%.%u') or name:match('^gpubp%.optim%.%u') then n = n + 1 end
      end
      print('classes=' .. n)
      local lin = gb.nn.Linear(3, 2)
      print('linear=' .. tostring(package.loaded['gpubp.nn.Linear'] ~= nil))
      print('conv=' .. tostring(package.loaded['gpubp.nn.Conv2d'] ~= nil))
      print('out=' .. lin(gb.ones(1, 3)):size(2))
    ]])
    assert.truthy(out:find('classes=0', 1, true), out)
    assert.truthy(out:find('linear=true', 1, true), out)
    assert.truthy(out:find('conv=false', 1, true), out)
    assert.truthy(out:find('out=2', 1, true), out)
  end)

  it('maps the BLAS only at the first product, and the product is right', function()
    local out = fresh(BLAS_MAPPED .. [[
      local x = gb.ones(2, 3) + 1
      ]] .. BLAS_MAPPED .. [[
      local y = gb.tensor({{1, 2}, {3, 4}, {5, 6}})
      print('sum=' .. (x:matmul(y)):sum():item())
      ]] .. BLAS_MAPPED)
    local seen = {}
    for v in out:gmatch('blas=(%a+)') do seen[#seen + 1] = v end
    assert.are.same({'false', 'false', 'true'}, seen, out)
    -- 2 * (1+3+5) + 2 * (2+4+6) per row, two rows
    assert.truthy(out:find('sum=84', 1, true), out)
  end)

  -- oneDNN (runtime/cpu/gb_dnnl.c) is mapped at the first convolution, when the build has it
  it('maps oneDNN only at the first convolution', function()
    local out = fresh(DNNL_MAPPED .. [[
      local x = gb.ones(1, 2, 3) + gb.ones(3):matmul(gb.ones(3, 3))
      ]] .. DNNL_MAPPED .. [[
      local y = gb._conv2d(gb.ones(1, 1, 4, 4), gb.ones(2, 1, 3, 3), gb.zeros(2), 3, 3, 1, 1, 1, 1)
      print('center=' .. y[1][1][2][2]:item())
      print('lib=' .. select(2, gb._conv_dnnl()))
      ]] .. DNNL_MAPPED)
    local seen = {}
    for v in out:gmatch('dnnl=(%a+)') do seen[#seen + 1] = v end
    assert.are.same('false', seen[1], out)
    assert.are.same('false', seen[2], out)
    local built = not out:find('lib=oneDNN: not built in', 1, true)
    local usable = out:find('lib=oneDNN %d') ~= nil
    assert.are.same(usable, seen[3] == 'true', out)
    assert.is_true(usable or not built or out:find('unavailable', 1, true) ~= nil, out)
    assert.truthy(out:find('center=9', 1, true), out)
  end)
end)

describe('lazy packages', function()
  it('list every entry through pairs', function()
    local names = {}
    for k in pairs(gb.nn) do names[k] = true end
    for _, want in ipairs({'Module', 'Linear', 'Conv2d', 'CrossEntropyLoss', 'init', 'utils'}) do
      assert.is_true(names[want] ~= nil, want)
    end
    local opt = {}
    for k in pairs(gb.optim) do opt[k] = true end
    for _, want in ipairs({'SGD', 'Adam', 'StepLR', 'lr_find', 'flatten_state_dict'}) do
      assert.is_true(opt[want] ~= nil, want)
    end
  end)

  it('give the same value on every access, and nil for unknown names', function()
    assert.are.equal(gb.nn.Linear, gb.nn.Linear)
    assert.are.equal(gb.optim.Optimizer.flatten_state_dict, gb.optim.flatten_state_dict)
    assert.is_nil(gb.nn.Lineer)
    assert.is_function(gb.autograd.gradcheck)
    assert.is_function(gb.utils.progress)
    assert.are.equal(require('gpubp.data.DataLoader'), gb.data.DataLoader)
  end)
end)
