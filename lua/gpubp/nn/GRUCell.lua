-- nn/GRUCell.lua — one GRU step as PyTorch's GRUCell: weight_ih (3H, in), weight_hh (3H, H),
-- bias_ih, bias_hh (3H), gates r, z, n. Runs the gru_seq row over a sequence of one step.

local errors = require('gpubp.errors')
local options = require('gpubp.options')
local Module = require('gpubp.nn.Module')
local Parameter = require('gpubp.nn.Parameter')
local init = require('gpubp.nn.init_fns')
local gb = require('gpubp.class').gb

local GRUCell = Module:extend('GRUCell')

local function shape_str(t) return '(' .. table.concat(t.shape, ', ') .. ')' end

-- GRUCell(input_size, hidden_size, {bias=true, device=})
function GRUCell:init(input_size, hidden_size, opts)
  input_size = options.positive_int('GRUCell', 'input_size', input_size)
  hidden_size = options.positive_int('GRUCell', 'hidden_size', hidden_size)
  opts = options.check('GRUCell', opts, { bias = true, device = options.optional })
  self.input_size, self.hidden_size, self.bias = input_size, hidden_size, opts.bias ~= false
  local topts = { device = opts.device }
  self.weight_ih = Parameter(gb.empty({ 3 * hidden_size, input_size }, topts))
  self.weight_hh = Parameter(gb.empty({ 3 * hidden_size, hidden_size }, topts))
  if self.bias then
    self.bias_ih = Parameter(gb.empty({ 3 * hidden_size }, topts))
    self.bias_hh = Parameter(gb.empty({ 3 * hidden_size }, topts))
  end
  self:reset_parameters()
end

function GRUCell:reset_parameters()
  local bound = 1 / math.sqrt(self.hidden_size)
  for _, p in ipairs(self:parameters()) do init.uniform_(p, -bound, bound) end
end

-- cell(x (B, in) or (in) [, h]) -> h'
function GRUCell:forward(x, h)
  if not gb.is_tensor(x) or (x:dim() ~= 1 and x:dim() ~= 2) or x:size(-1) ~= self.input_size then
    errors.raisef('GRUCell: expected input of shape (B, %d) or (%d), got %s', self.input_size,
      self.input_size, gb.is_tensor(x) and shape_str(x) or type(x))
  end
  local batched = x:dim() == 2
  local x2 = batched and x or x:unsqueeze(1)
  local B, H = x2:size(1), self.hidden_size
  if h == nil then
    h = gb.zeros({ B, H }, { device = x2.device })
  elseif not gb.is_tensor(h) or h:dim() ~= x:dim() or h:numel() ~= B * H or h:size(-1) ~= H then
    errors.raisef('GRUCell: expected h of shape %s, got %s',
      batched and ('(' .. B .. ', ' .. H .. ')') or ('(' .. H .. ')'),
      gb.is_tensor(h) and shape_str(h) or type(h))
  elseif not batched then
    h = h:unsqueeze(1)
  end
  local xg = self.bias and gb.addmm(self.bias_ih, x2, self.weight_ih:t())
             or x2:matmul(self.weight_ih:t())
  local b_hh = self.bias and self.bias_hh or gb.zeros({ 3 * H }, { device = x2.device })
  local out = gb._gru_seq(xg:unsqueeze(1), self.weight_hh, b_hh, h):select(1, 2):narrow(2, 1, H)
  if not batched then return out:squeeze(1) end
  return out
end

function GRUCell:extra_repr()
  return self.input_size .. ', ' .. self.hidden_size .. (self.bias and '' or ', bias=false')
end

return GRUCell
