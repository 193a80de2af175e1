-- nn/GradMonitor.lua — gradient health after backward: per-layer gradient norms, and
-- warnings naming the layer for vanishing gradients (an early layer's norm orders of
-- magnitude below the last layer's), exploding ones (above a threshold, or growing fast
-- between checks) and non-finite ones (NaN/Inf). Costs nothing until check() is called.

local class = require('gpubp.class')
local check = require('gpubp.utils.check')
local options = require('gpubp.options')
local gb = class.gb

local GradMonitor = class.Object:extend('GradMonitor')

local OPTIONS = {
  vanish_ratio = 1e-3, max_norm = 1e3, growth = 1e2, growth_min = 1.0, every = 1, warn = true,
  file = check.NONE, repeat_warnings = false,
}

-- GradMonitor(model [, {vanish_ratio=1e-3, max_norm=1e3, growth=100, growth_min=1,
-- every=1, warn=true, file=io.stderr, repeat_warnings=false}])
function GradMonitor:init(model, opts)
  if type(model) ~= 'table' or type(model.named_modules) ~= 'function' then
    check.raise('GradMonitor: expected a Module, got ' .. type(model))
  end
  local o = check.options('GradMonitor', opts, OPTIONS)
  for _, k in ipairs({ 'vanish_ratio', 'max_norm', 'growth', 'growth_min' }) do
    if o[k] <= 0 then check.raise(string.format('GradMonitor: %s must be > 0, got %g', k, o[k])) end
  end
  local every = options.integer_at_least(o.every, 1)
  if not every then
    check.raise('GradMonitor: every must be a positive integer, got ' .. tostring(o.every))
  end
  o.every = every
  self.model, self.opts = model, o
  self.file = o.file or io.stderr
  self.calls, self.checks = 0, 0
  self.previous, self.reported = {}, {}
  self.last = {}
  -- layers: modules that own parameters directly, in registration (forward) order
  self.layers = {}
  for _, nm in ipairs(model:named_modules()) do
    local own = rawget(nm[2], '_parameters')
    if own and #own.names > 0 then
      local params = {}
      for _, n in ipairs(own.names) do params[#params + 1] = { n, own.map[n] } end
      local name = nm[1] == '' and '(model)' or nm[1]
      self.layers[#self.layers + 1] = { name = name, module = nm[2], params = params,
        label = name .. ' (' .. tostring(nm[2]):match('^[^\n]*') .. ')' }
    end
  end
end

-- Norms of the layers' gradients: {{name=, label=, norm=, bad_param=}...}, in layer order
-- (layers without a gradient are left out).
function GradMonitor:norms()
  local out = {}
  gb.no_grad(function()
    for _, L in ipairs(self.layers) do
      local sq, any, bad = 0, false, nil
      for _, np in ipairs(L.params) do
        local g = np[2].grad
        if g then
          any = true
          local s = (g * g):sum():item()
          if s ~= s or s == math.huge then
            local f = g:abs():max():item()
            if f ~= f or f == math.huge then bad = bad or np[1] end
          end
          sq = sq + s
        end
      end
      if any then out[#out + 1] = { name = L.name, label = L.label, norm = math.sqrt(sq), bad_param = bad } end
    end
  end)
  return out
end

local function fmt(v) return string.format('%.3g', v) end

-- Checks the gradients now in the model (call after backward). Returns the list of
-- warnings {{kind='vanishing'|'exploding'|'nonfinite', layer=, norm=, message=}...} and
-- prints each new one (once per kind and layer unless repeat_warnings).
function GradMonitor:check()
  self.calls = self.calls + 1
  if (self.calls - 1) % self.opts.every ~= 0 then return self.last end
  self.checks = self.checks + 1
  local o = self.opts
  local norms = self:norms()
  local warnings = {}
  local function warn(kind, layer, norm, msg)
    warnings[#warnings + 1] = { kind = kind, layer = layer.name, norm = norm, message = msg }
  end
  for _, L in ipairs(norms) do
    if L.norm ~= L.norm or L.norm == math.huge then
      warn('nonfinite', L, L.norm, string.format('non-finite gradient in layer %s%s', L.label,
        L.bad_param and (' (parameter ' .. L.bad_param .. ')') or ''))
    end
  end
  local last = norms[#norms]
  if last and last.norm == last.norm and last.norm < math.huge and last.norm > 0 then
    for i = 1, #norms - 1 do
      local L = norms[i]
      if L.norm == L.norm and L.norm / last.norm < o.vanish_ratio then
        warn('vanishing', L, L.norm, string.format('vanishing gradient: layer %s has norm %s, %s '
          .. 'times the last layer %s (%s)', L.label, fmt(L.norm), fmt(L.norm / last.norm),
          last.name, fmt(last.norm)))
        break
      end
    end
  end
  for _, L in ipairs(norms) do
    local finite = L.norm == L.norm and L.norm < math.huge
    local prev = self.previous[L.name]
    if finite and L.norm > o.max_norm then
      warn('exploding', L, L.norm, string.format('exploding gradient: layer %s has norm %s '
        .. '(above max_norm %s)', L.label, fmt(L.norm), fmt(o.max_norm)))
    elseif finite and prev and prev > 0 and L.norm > o.growth_min and L.norm > o.growth * prev then
      warn('exploding', L, L.norm, string.format('exploding gradient: layer %s grew from %s to %s '
        .. 'since the last check', L.label, fmt(prev), fmt(L.norm)))
    end
    if finite then self.previous[L.name] = L.norm end
  end
  self.last, self.last_norms = warnings, norms
  if o.warn then
    for _, w in ipairs(warnings) do
      local key = w.kind .. ':' .. w.layer
      if o.repeat_warnings or not self.reported[key] then
        self.reported[key] = true
        self.file:write('GradMonitor: ', w.message, '\n')
      end
    end
  end
  return warnings
end

-- A short state for a progress line: 'grad ok' or 'grad vanishing@1 ...'.
function GradMonitor:status()
  if self.checks == 0 then return 'grad -' end
  if #self.last == 0 then return 'grad ok' end
  local parts = {}
  for _, w in ipairs(self.last) do parts[#parts + 1] = w.kind .. '@' .. w.layer end
  return 'grad ' .. table.concat(parts, ',')
end

function GradMonitor:__tostring()
  return string.format('GradMonitor(%d layers, %s)', #self.layers, self:status())
end

return GradMonitor
