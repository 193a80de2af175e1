-- nn/GRU.lua — a multi-layer GRU as PyTorch's: gates r, z, n stacked in that order in
-- weight_ih_l<k> (3H, in), weight_hh_l<k> (3H, H), bias_ih_l<k>, bias_hh_l<k> (3H), with
-- n = tanh(W_in x + b_in + r * (W_hn h + b_hn)) and h' = (1 - z) * n + z * h. Each layer is
-- one matmul for the input projections of all steps, then the gru_seq row.

local errors = require('gpubp.errors')
local Module = require('gpubp.nn.Module')
local R = require('gpubp.nn.recurrent')
local gb = require('gpubp.class').gb

local GRU = Module:extend('GRU')

-- GRU(input_size, hidden_size, {num_layers=1, bias=true, batch_first=false, dropout=0,
--   bidirectional=false, device=})
function GRU:init(input_size, hidden_size, opts)
  R.setup(self, 'GRU', 3, input_size, hidden_size, opts)
  self:reset_parameters()
end

function GRU:reset_parameters() R.reset(self) end

-- gru(x [, h0]) -> output, h_n
function GRU:forward(x, h0)
  local x3, batched = R.input(self, 'GRU', x)
  if h0 ~= nil and not gb.is_tensor(h0) then
    errors.raisef('GRU: expected the initial state h0 as a tensor, got %s', type(h0))
  end
  h0 = R.state(self, 'GRU', 'h0', h0, x3, batched)
  local T, B, H = x3:size(1), x3:size(2), self.hidden_size
  local zeros = h0 == nil and gb.zeros({ B, H }, { device = x3.device }) or nil
  local no_bias = not self.bias and gb.zeros({ 3 * H }, { device = x3.device }) or nil
  local out, finals = R.layers(self, x3, function(sfx, input, k)
    local xg = R.project(input, self['weight_ih_l' .. sfx], self.bias and self['bias_ih_l' .. sfx] or nil)
    local rec = gb._gru_seq(xg, self['weight_hh_l' .. sfx], no_bias or self['bias_hh_l' .. sfx],
      h0 and h0:select(1, k) or zeros)
    -- the h slot first, then the steps (as LSTM.lua: the smaller padding in backward)
    return rec:narrow(3, 1, H):narrow(1, 2, T), { rec:select(1, T + 1):narrow(2, 1, H) }
  end)
  return R.output(self, out, batched), R.final(gb.stack(finals[1]), batched)
end

function GRU:extra_repr() return R.extra_repr(self) end

return GRU
