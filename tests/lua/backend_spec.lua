-- backend_spec.lua — CUDA is a plugin (libgpubp_cuda.so) opened only when a cuda device,
-- gb.cuda.* or `gpubp -v` asks for it: CPU runs never map it (read from /proc/self/maps of the
-- running gpubp), a binary without the plugin beside it behaves like a CPU-only build and says
-- why, a plugin that does not load says the loader's reason, and CPU work goes on in each case.
-- Run: build/gpubp /usr/bin/busted tests/lua/backend_spec.lua

local support = dofile('tests/lua/support.lua')
local gpubp_binary = support.gpubp_binary

local function sh(cmd)
  local p = assert(io.popen(cmd .. ' 2>&1'))
  local out = p:read('a')
  local ok, _, code = p:close()
  return out, ok and 0 or code
end

local quote = support.quote

-- Lua code printing which CUDA pieces this process has mapped
local MAPPED = [[
local m = io.open('/proc/self/maps'):read('a')
print('plugin=' .. tostring(m:find('libgpubp_cuda', 1, true) ~= nil))
print('cudalib=' .. tostring(m:find('libcud', 1, true) ~= nil or m:find('libcublas', 1, true) ~= nil))
]]

local function tmpdir()
  local d = os.tmpname()
  os.remove(d)
  assert(os.execute('mkdir -p ' .. quote(d)))
  return d
end

describe('the CUDA plugin', function()
  it('is not mapped by a --device cpu run, after tensors, ops and autograd', function()
    -- this spec itself runs under `gpubp --device cpu` (or lua5.4 with the default set to cpu)
    local x = gb.randn(8, 4, {requires_grad = true})
    local y = (x:matmul(gb.ones(4, 2)):relu()):sum()
    y:backward()
    assert.are.equal(8, x.grad:size(1))
    local m = io.open('/proc/self/maps'):read('a')
    assert.is_nil(m:find('libgpubp_cuda', 1, true))
    assert.is_nil(m:find('libcuda', 1, true))
    assert.is_nil(m:find('libcublas', 1, true))
  end)

  it('is not opened by require or by set_default_device("cpu") before tensors', function()
    local out, code = sh(quote(gpubp_binary()) .. ' -e ' ..
      quote("gb.set_default_device('cpu'); local t = gb.ones(3) + 1; assert(t.device == 'cpu')\n" .. MAPPED))
    assert.are.equal(0, code, out)
    assert.truthy(out:find('plugin=false', 1, true), out)
    assert.truthy(out:find('cudalib=false', 1, true), out)
    out, code = sh(quote(gpubp_binary()) .. ' -e ' .. quote(MAPPED))
    assert.are.equal(0, code, out)
    assert.truthy(out:find('plugin=false', 1, true), out)
  end)

  it('is what gb.cuda and -v ask, and their answers agree', function()
    local out, code = sh(quote(gpubp_binary()) .. ' -e ' .. quote(
      "print('avail=' .. tostring(gb.cuda.is_available()), 'why=' .. tostring(gb.cuda.why_unavailable()))"))
    assert.are.equal(0, code, out)
    local avail = out:match('avail=(%a+)')
    local why = out:match('why=([^\n]*)')
    local v = sh(quote(gpubp_binary()) .. ' -v')
    assert.truthy(v:find('devices: cpu', 1, true), v)
    if avail == 'false' then
      assert.are_not.equal('nil', why)
      assert.truthy(v:find('cuda unavailable: ' .. why, 1, true), v)
    else
      assert.truthy(v:find('cuda:0', 1, true), v)
    end
  end)

  it('missing beside a copied binary: CPU-only behaviour, and the reason names the file', function()
    local d = tmpdir()
    assert(os.execute('cp ' .. quote(gpubp_binary()) .. ' ' .. quote(d .. '/gpubp')))
    local bin = quote(d .. '/gpubp')
    local out, code = sh(bin .. ' -e ' .. quote(
      "print(gb.cuda.is_available(), gb.cuda.device_count(), gb.cuda.why_unavailable()); " ..
      "print(gb.get_default_device(), (gb.ones(2, 2):matmul(gb.ones(2, 2))):sum():item()); " ..
      "print(pcall(function() return gb.ones(1):cuda() end))"))
    assert.are.equal(0, code, out)
    assert.truthy(out:find('false\t0\tlibgpubp_cuda.so not found (looked in ' .. d, 1, true), out)
    assert.truthy(out:find('cpu\t8', 1, true), out)
    assert.truthy(out:find('to: device cuda:0 is not available: cuda unavailable: ' ..
      'libgpubp_cuda.so not found', 1, true), out)
    out, code = sh(bin .. ' --device cuda -e "print(1)"')
    assert.are_not.equal(0, code)
    assert.truthy(out:find('cuda unavailable: libgpubp_cuda.so not found', 1, true), out)
    os.execute('rm -rf ' .. quote(d))
  end)

  it('that does not load gives the loader\'s reason, and CPU work goes on', function()
    local d = tmpdir()
    assert(os.execute('cp ' .. quote(gpubp_binary()) .. ' ' .. quote(d .. '/gpubp')))
    local f = assert(io.open(d .. '/libgpubp_cuda.so', 'wb'))
    f:write('not an ELF file\n')
    f:close()
    local out, code = sh(quote(d .. '/gpubp') .. ' -e ' .. quote(
      "print(gb.cuda.why_unavailable()); print(gb.get_default_device(), gb.ones(3):sum():item())"))
    assert.are.equal(0, code, out)
    assert.truthy(out:find(d .. '/libgpubp_cuda.so', 1, true), out)
    assert.is_nil(out:find('not found', 1, true), out)
    assert.truthy(out:find('cpu\t3', 1, true), out)
    os.execute('rm -rf ' .. quote(d))
  end)
end)
