-- nn/init_fns.lua — nn.init: in-place initializers with PyTorch's formulas (fans, gains).
-- Each takes the tensor first, fills it under no_grad and returns it.

local errors = require('gpubp.errors')
local gb = require('gpubp.class').gb

local init = {}

-- fan_in/fan_out of a weight laid out (out, in, k...) as in PyTorch.
function init.calculate_fans(t)
  local d = t:dim()
  if d < 2 then
    errors.raise('nn.init: fan in/out need a tensor with at least 2 dimensions, got ' .. d)
  end
  local receptive = 1
  for i = 3, d do receptive = receptive * t:size(i) end
  return t:size(2) * receptive, t:size(1) * receptive
end

-- PyTorch's calculate_gain.
function init.calculate_gain(nonlinearity, param)
  nonlinearity = nonlinearity or 'leaky_relu'
  if nonlinearity == 'linear' or nonlinearity == 'sigmoid' or nonlinearity:match('^conv') then
    return 1
  elseif nonlinearity == 'tanh' then
    return 5 / 3
  elseif nonlinearity == 'relu' then
    return math.sqrt(2)
  elseif nonlinearity == 'leaky_relu' then
    local a = param or 0.01
    return math.sqrt(2 / (1 + a * a))
  elseif nonlinearity == 'selu' then
    return 3 / 4
  end
  errors.raise("nn.init.calculate_gain: unknown nonlinearity '" .. tostring(nonlinearity) .. "'")
end

local function fill(t, fn)
  gb.no_grad(function() fn(t) end)
  return t
end

function init.uniform_(t, a, b)
  return fill(t, function(x) x:uniform_(a or 0, b or 1) end)
end

function init.normal_(t, mean, std)
  return fill(t, function(x) x:normal_(mean or 0, std or 1) end)
end

function init.constant_(t, v)
  return fill(t, function(x) x:fill_(v) end)
end

function init.zeros_(t) return init.constant_(t, 0) end
function init.ones_(t) return init.constant_(t, 1) end

function init.xavier_uniform_(t, gain)
  local fan_in, fan_out = init.calculate_fans(t)
  local a = (gain or 1) * math.sqrt(6 / (fan_in + fan_out))
  return init.uniform_(t, -a, a)
end

function init.xavier_normal_(t, gain)
  local fan_in, fan_out = init.calculate_fans(t)
  return init.normal_(t, 0, (gain or 1) * math.sqrt(2 / (fan_in + fan_out)))
end

-- Options as PyTorch's positional (a, mode, nonlinearity) or one table {a=, mode=, nonlinearity=}.
local function kaiming_std(t, a, mode, nonlinearity)
  if type(a) == 'table' then
    a, mode, nonlinearity = a.a, a.mode, a.nonlinearity
  end
  a, mode, nonlinearity = a or 0, mode or 'fan_in', nonlinearity or 'leaky_relu'
  local fan_in, fan_out = init.calculate_fans(t)
  local fan
  if mode == 'fan_in' then fan = fan_in
  elseif mode == 'fan_out' then fan = fan_out
  else errors.raise("nn.init.kaiming: mode must be 'fan_in' or 'fan_out', got " .. tostring(mode)) end
  return init.calculate_gain(nonlinearity, a) / math.sqrt(fan)
end

function init.kaiming_uniform_(t, a, mode, nonlinearity)
  local bound = math.sqrt(3) * kaiming_std(t, a, mode, nonlinearity)
  return init.uniform_(t, -bound, bound)
end

function init.kaiming_normal_(t, a, mode, nonlinearity)
  return init.normal_(t, 0, kaiming_std(t, a, mode, nonlinearity))
end

return init
