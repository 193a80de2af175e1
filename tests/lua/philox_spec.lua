-- philox_spec.lua — the random draws against an independent Philox4x32-10 written here in Lua
-- (checked first on the Random123 known-answer vector for counter 0, key 0): float32 draws
-- take one 32-bit word per element (24 bits), float64 draws two words (53 bits), rand,
-- randn, uniform_ and normal_ alike, with the state's counter advancing by the words used;
-- and the float64 distributions over 1e6 draws.
-- Run: build/gpubp /usr/bin/busted tests/lua/philox_spec.lua

local gb = require('gpubp')

local M32 = 0xffffffff
-- Philox4x32-10 of a 64-bit counter (words 0,1; words 2,3 zero) under a 64-bit key
local function philox(counter, seed)
  local c0, c1, c2, c3 = counter & M32, (counter >> 32) & M32, 0, 0
  local k0, k1 = seed & M32, (seed >> 32) & M32
  for _ = 1, 10 do
    local p0, p1 = 0xD2511F53 * c0, 0xCD9E8D57 * c2 -- < 2^64: exact in Lua's wrapping integers
    local n0 = ((p1 >> 32) ~ c1 ~ k0) & M32
    local n2 = ((p0 >> 32) ~ c3 ~ k1) & M32
    c1, c3, c0, c2 = p1 & M32, p0 & M32, n0, n2
    k0, k1 = (k0 + 0x9E3779B9) & M32, (k1 + 0xBB67AE85) & M32
  end
  return { c0, c1, c2, c3 }
end

local function f32_uniform(seed, i) -- element i (0-based) of a float32 draw from counter 0
  return (philox(i >> 2, seed)[(i & 3) + 1] >> 8) / 2 ^ 24
end
local function bits53(hi, lo) return (hi << 21) | (lo >> 11) end
local function f64_uniform(seed, i, offset)
  local w = philox((offset or 0) + (i >> 1), seed)
  local k = (i & 1) * 2
  return bits53(w[k + 1], w[k + 2]) / 2 ^ 53
end
local function f64_normal(seed, i)
  local w = philox(i >> 1, seed)
  local u1 = (bits53(w[1], w[2]) + 1) / 2 ^ 53
  local u2 = bits53(w[3], w[4]) / 2 ^ 53
  local r, th = math.sqrt(-2 * math.log(u1)), 6.283185307179586 * u2
  return (i & 1) == 1 and r * math.sin(th) or r * math.cos(th)
end

describe('Philox draws', function()
  it('the Lua Philox4x32-10 gives the Random123 known answer for counter 0, key 0', function()
    assert.are.same({ 0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8 }, philox(0, 0))
  end)

  it('float32 rand is the top 24 bits of one word per element', function()
    for _, seed in ipairs({ 0, 7, 123456789 }) do
      gb.manual_seed(seed)
      local t = gb.rand(9)
      for i = 0, 8 do assert.are.equal(f32_uniform(seed, i), t[i + 1]:item()) end
    end
  end)

  it('float64 rand is 53 bits from two words per element, exactly', function()
    for _, seed in ipairs({ 0, 7, 123456789 }) do
      gb.manual_seed(seed)
      local t = gb.rand(7, 'float64')
      for i = 0, 6 do assert.are.equal(f64_uniform(seed, i), t[i + 1]:item()) end
    end
    gb.manual_seed(0) -- element 0 from the known answer's words 0 and 1
    assert.are.equal(((0x6627e8d5 << 21) | (0xe169c58d >> 11)) / 2 ^ 53, gb.rand(1, 'float64'):item())
  end)

  it('float64 randn and normal_ are Box-Muller on the two 53-bit uniforms of a counter', function()
    gb.manual_seed(11)
    local t = gb.randn(6, 'float64')
    for i = 0, 5 do
      local want = f64_normal(11, i)
      assert.is_true(math.abs(t[i + 1]:item() - want) <= 1e-15 * (1 + math.abs(want)), i)
    end
    gb.manual_seed(11)
    local n = gb.zeros(6, 'float64'):normal_(2, 3)
    for i = 0, 5 do
      local want = 2 + 3 * f64_normal(11, i)
      assert.is_true(math.abs(n[i + 1]:item() - want) <= 1e-14 * (1 + math.abs(want)), i)
    end
  end)

  it('the counter advances by the words used: two float64 or four float32 elements each', function()
    gb.manual_seed(5)
    gb.rand(3, 'float64') -- counters 0 and 1
    local nxt = gb.rand(2, 'float64')
    assert.are.equal(f64_uniform(5, 0, 2), nxt[1]:item())
    assert.are.equal(f64_uniform(5, 1, 2), nxt[2]:item())
    gb.manual_seed(5)
    gb.rand(5) -- float32: counters 0 and 1
    assert.are.equal(f64_uniform(5, 0, 2), gb.rand(1, 'float64'):item())
    gb.manual_seed(5)
    local u = gb.zeros(4, 'float64'):uniform_(-1, 3)
    for i = 0, 3 do assert.are.equal(-1 + f64_uniform(5, i) * 4, u[i + 1]:item()) end
  end)

  it('float64 draws of 1e6 elements: uniform and normal moments, and bits float32 lacks', function()
    gb.manual_seed(2026)
    local n = 1000000
    local u = gb.rand(n, 'float64')
    local mu, var = u:mean():item(), u:var():item()
    assert.is_true(math.abs(mu - 0.5) < 5 * math.sqrt(1 / 12 / n), mu) -- 5 standard errors
    assert.is_true(math.abs(var - 1 / 12) < 5 * math.sqrt(1 / 180 / n), var)
    assert.is_true(u:min():item() >= 0 and u:max():item() < 1)
    -- nearly every value needs more than float32's 24 bits
    local exact32 = u:float():double():eq(u):sum():item()
    assert.is_true(exact32 < 100, exact32)
    local z = gb.randn(n, 'float64')
    local zm, zv = z:mean():item(), z:var():item()
    assert.is_true(math.abs(zm) < 5 / math.sqrt(n), zm)
    assert.is_true(math.abs(zv - 1) < 5 * math.sqrt(2 / n), zv)
    local z4 = (z ^ 4):mean():item() -- kurtosis 3
    assert.is_true(math.abs(z4 - 3) < 5 * math.sqrt(96 / n), z4)
  end)
end)
