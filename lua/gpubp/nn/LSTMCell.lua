-- nn/LSTMCell.lua — one LSTM step as PyTorch's LSTMCell: weight_ih (4H, in), weight_hh (4H, H),
-- bias_ih, bias_hh (4H), gates i, f, g, o. Runs the lstm_seq row over a sequence of one step.

local errors = require('gpubp.errors')
local options = require('gpubp.options')
local Module = require('gpubp.nn.Module')
local Parameter = require('gpubp.nn.Parameter')
local init = require('gpubp.nn.init_fns')
local gb = require('gpubp.class').gb

local LSTMCell = Module:extend('LSTMCell')

local function shape_str(t) return '(' .. table.concat(t.shape, ', ') .. ')' end

-- LSTMCell(input_size, hidden_size, {bias=true, device=})
function LSTMCell:init(input_size, hidden_size, opts)
  input_size = options.positive_int('LSTMCell', 'input_size', input_size)
  hidden_size = options.positive_int('LSTMCell', 'hidden_size', hidden_size)
  opts = options.check('LSTMCell', opts, { bias = true, device = options.optional })
  self.input_size, self.hidden_size, self.bias = input_size, hidden_size, opts.bias ~= false
  local topts = { device = opts.device }
  self.weight_ih = Parameter(gb.empty({ 4 * hidden_size, input_size }, topts))
  self.weight_hh = Parameter(gb.empty({ 4 * hidden_size, hidden_size }, topts))
  if self.bias then
    self.bias_ih = Parameter(gb.empty({ 4 * hidden_size }, topts))
    self.bias_hh = Parameter(gb.empty({ 4 * hidden_size }, topts))
  end
  self:reset_parameters()
end

function LSTMCell:reset_parameters()
  local bound = 1 / math.sqrt(self.hidden_size)
  for _, p in ipairs(self:parameters()) do init.uniform_(p, -bound, bound) end
end

-- cell(x (B, in) or (in) [, {h, c}]) -> h', c'
function LSTMCell:forward(x, state)
  if not gb.is_tensor(x) or (x:dim() ~= 1 and x:dim() ~= 2) or x:size(-1) ~= self.input_size then
    errors.raisef('LSTMCell: expected input of shape (B, %d) or (%d), got %s', self.input_size,
      self.input_size, gb.is_tensor(x) and shape_str(x) or type(x))
  end
  local batched = x:dim() == 2
  local x2 = batched and x or x:unsqueeze(1)
  local B, H = x2:size(1), self.hidden_size
  if state ~= nil and (type(state) ~= 'table' or gb.is_tensor(state)) then
    errors.raisef('LSTMCell: expected the state as a table {h, c}, got %s',
      gb.is_tensor(state) and 'a tensor' or type(state))
  end
  state = state or {}
  local s = {}
  for i, what in ipairs({ 'h', 'c' }) do
    local v = state[i]
    if v == nil then
      v = gb.zeros({ B, H }, { device = x2.device })
    elseif not gb.is_tensor(v) or v:numel() ~= B * H or v:size(-1) ~= H
      or v:dim() ~= x:dim() then
      errors.raisef('LSTMCell: expected %s of shape %s, got %s', what,
        batched and ('(' .. B .. ', ' .. H .. ')') or ('(' .. H .. ')'),
        gb.is_tensor(v) and shape_str(v) or type(v))
    elseif not batched then
      v = v:unsqueeze(1)
    end
    s[i] = v
  end
  local xg = self.bias and gb.addmm(self.bias_ih + self.bias_hh, x2, self.weight_ih:t())
             or x2:matmul(self.weight_ih:t())
  local last = gb._lstm_seq(xg:unsqueeze(1), self.weight_hh, s[1], s[2]):select(1, 2)
  local h, c = last:narrow(2, 1, H), last:narrow(2, H + 1, H)
  if not batched then return h:squeeze(1), c:squeeze(1) end
  return h, c
end

function LSTMCell:extra_repr()
  return self.input_size .. ', ' .. self.hidden_size .. (self.bias and '' or ', bias=false')
end

return LSTMCell
