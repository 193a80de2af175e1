-- nn/Linear.lua — y = x W^T + b with W of shape (out, in) and b of shape (out), as in
-- PyTorch, including its default init: W and b ~ U(-1/sqrt(in), 1/sqrt(in)).

local errors = require('gpubp.errors')
local options = require('gpubp.options')
local Module = require('gpubp.nn.Module')
local Parameter = require('gpubp.nn.Parameter')
local init = require('gpubp.nn.init_fns')
local gb = require('gpubp.class').gb

local Linear = Module:extend('Linear')

local SPEC = { bias = true, device = options.optional, dtype = options.opt(nil, 'string') }

-- Linear(in_features, out_features, {bias=true, device=, dtype=})
function Linear:init(in_features, out_features, opts)
  in_features = options.positive_int('Linear', 'in_features', in_features)
  out_features = options.positive_int('Linear', 'out_features', out_features)
  opts = options.check('Linear', opts, SPEC)
  local topts = { device = opts.device, dtype = opts.dtype }
  self.in_features, self.out_features = in_features, out_features
  self.weight = Parameter(gb.empty({ out_features, in_features }, topts))
  if opts.bias ~= false then
    self.bias = Parameter(gb.empty({ out_features }, topts))
  end
  self:reset_parameters()
end

function Linear:reset_parameters()
  init.kaiming_uniform_(self.weight, math.sqrt(5))
  if self.bias then
    local bound = 1 / math.sqrt(self.in_features)
    init.uniform_(self.bias, -bound, bound)
  end
end

function Linear:forward(x)
  local d = x:dim()
  if d == 2 then
    if self.bias then return gb.addmm(self.bias, x, self.weight:t()) end
    return x:matmul(self.weight:t())
  end
  if d < 1 then
    errors.raise('Linear: expected input of shape (*, ' .. self.in_features .. '), got a scalar')
  end
  -- (*, in) -> (prod *, in) -> (prod *, out) -> (*, out)
  local shape, out_shape = x.shape, {}
  for i = 1, d - 1 do out_shape[i] = shape[i] end
  out_shape[d] = self.out_features
  local flat = x:reshape(-1, shape[d])
  local y = self.bias and gb.addmm(self.bias, flat, self.weight:t())
            or flat:matmul(self.weight:t())
  return y:reshape(out_shape)
end

function Linear:__tostring()
  return 'Linear(' .. self.in_features .. ' -> ' .. self.out_features
         .. (self.bias and '' or ', bias=false') .. ')'
end

return Linear
