-- nn/window.lua — the window options of the convolution and pooling layers (ConvBase for
-- Conv1d/Conv2d, PoolBase for MaxPool1d/2d and AvgPool1d/2d), read as PyTorch reads them: a
-- size is a number or a table of one number per spatial dim. One place for their messages.

local errors = require('gpubp.errors')
local options = require('gpubp.options')

local window = {}

local function show(v)
  if type(v) == 'table' then
    local parts = {}
    for i, e in ipairs(v) do parts[i] = tostring(e) end
    return '{' .. table.concat(parts, ', ') .. '}'
  end
  return tostring(v)
end

-- `v` as a new table of `dims` integers >= lo (0 or 1): n -> {n, ...}; a table must hold
-- `dims` integers (an integral float such as 4 / 2 is taken as an integer:
-- options.tointeger). Raises "<callee>: <what> must be a positive integer or {h, w}, got <v>"
-- ("non-negative" with lo 0; 1-d layers say "a positive integer").
function window.sizes(callee, what, v, dims, lo)
  local t = type(v) == 'table' and v or {}
  if type(v) ~= 'table' then
    for d = 1, dims do t[d] = v end
  end
  local out, ok = {}, #t == dims
  for d = 1, dims do
    out[d] = options.integer_at_least(t[d], lo)
    ok = ok and out[d] ~= nil
  end
  if not ok then
    errors.raisef('%s: %s must be a %s integer%s, got %s', callee, what,
      lo == 0 and 'non-negative' or 'positive', dims == 2 and ' or {h, w}' or '', show(v))
  end
  return out
end

-- The sizes as "3x3" (2-d) or "3" (1-d), for __tostring.
function window.show(t)
  return table.concat(t, 'x')
end

-- The 2-d window (kh, kw, sh, sw, ph, pw, dh, dw) of 1-d or 2-d sizes: a 1-d window runs on
-- (N, C, 1, L) as a 1 x k window.
function window.args2d(k, s, p, d)
  if #k == 1 then return 1, k[1], 1, s[1], 0, p[1], 1, d[1] end
  return k[1], k[2], s[1], s[2], p[1], p[2], d[1], d[2]
end

-- The input as (N, C, H, W) for a layer of `dims` spatial dims, and whether it came unbatched:
-- (N, C, <dims sizes>) or, as PyTorch also takes, (C, <dims sizes>) (a batch of one); a 1-d
-- layer's (N, C, L) is viewed as (N, C, 1, L). Raises "<callee>: expected input (N, C, H, W),
-- got (<shape>)" (the channel count in place of C when given; L for 1-d layers).
function window.as_nchw(callee, x, dims, channels)
  local unbatched = x:dim() == dims + 1
  if unbatched then x = x:unsqueeze(1) end
  if x:dim() ~= dims + 2 or (channels and x:size(2) ~= channels) then
    errors.raisef('%s: expected input (N, %s, %s), got (%s)', callee,
      channels and tostring(channels) or 'C', dims == 2 and 'H, W' or 'L',
      table.concat(unbatched and x:squeeze(1).shape or x.shape, ','))
  end
  if dims == 1 then x = x:unsqueeze(3) end
  return x, unbatched
end

-- A layer's (N, C, H, W) output in the input's form: (N, C, L) for a 1-d layer, without the
-- batch dim for an unbatched input.
function window.from_nchw(y, dims, unbatched)
  if dims == 1 then y = y:select(3, 1) end
  if unbatched then y = y:select(1, 1) end
  return y
end

return window
