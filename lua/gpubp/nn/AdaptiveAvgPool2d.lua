-- nn/AdaptiveAvgPool2d.lua — average pooling of (N, C, H, W) to a fixed output size, as
-- PyTorch's AdaptiveAvgPool2d: output cell i of n along H averages rows
-- floor(i*H/n) .. ceil((i+1)*H/n) - 1 (the windows may overlap).

local errors = require('gpubp.errors')
local options = require('gpubp.options')
local Module = require('gpubp.nn.Module')
local gb = require('gpubp.class').gb

local AdaptiveAvgPool2d = Module:extend('AdaptiveAvgPool2d')

-- AdaptiveAvgPool2d(n) or AdaptiveAvgPool2d{oh, ow}
function AdaptiveAvgPool2d:init(output_size, extra)
  if extra ~= nil then
    errors.raise('AdaptiveAvgPool2d: expected one output size (n or {h, w}), got a second argument')
  end
  local h, w = output_size, output_size
  if type(output_size) == 'table' then h, w = output_size[1], output_size[2] end
  h, w = options.integer_at_least(h, 1), options.integer_at_least(w, 1)
  if not h or not w or (type(output_size) == 'table' and #output_size ~= 2) then
    errors.raise('AdaptiveAvgPool2d: output_size must be a positive integer or {h, w}, got '
      .. (type(output_size) == 'table' and '{' .. table.concat(output_size, ', ') .. '}'
      or tostring(output_size)))
  end
  self.oh, self.ow = h, w
end

function AdaptiveAvgPool2d:forward(x)
  return gb._adaptive_avg_pool2d(x, self.oh, self.ow)
end

function AdaptiveAvgPool2d:__tostring()
  return ('AdaptiveAvgPool2d(%dx%d)'):format(self.oh, self.ow)
end

return AdaptiveAvgPool2d
