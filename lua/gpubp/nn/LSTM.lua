-- nn/LSTM.lua — a multi-layer LSTM as PyTorch's: gates i, f, g, o stacked in that order in
-- weight_ih_l<k> (4H, in), weight_hh_l<k> (4H, H), bias_ih_l<k>, bias_hh_l<k> (4H), so a
-- PyTorch state_dict loads as is. Each layer is one matmul for the input projections of all
-- steps, then the lstm_seq row (one sgemm and one fused cell per step, BPTT in its backward);
-- bidirectional adds the *_reverse parameters of a second pass over the reversed sequence.

local errors = require('gpubp.errors')
local Module = require('gpubp.nn.Module')
local R = require('gpubp.nn.recurrent')
local gb = require('gpubp.class').gb

local LSTM = Module:extend('LSTM')

-- LSTM(input_size, hidden_size, {num_layers=1, bias=true, batch_first=false, dropout=0,
--   bidirectional=false, device=})
function LSTM:init(input_size, hidden_size, opts)
  R.setup(self, 'LSTM', 4, input_size, hidden_size, opts)
  self:reset_parameters()
end

function LSTM:reset_parameters() R.reset(self) end

-- lstm(x [, {h0, c0}]) -> output, {h_n, c_n}
function LSTM:forward(x, state)
  local x3, batched = R.input(self, 'LSTM', x)
  if state ~= nil and (type(state) ~= 'table' or gb.is_tensor(state)) then
    errors.raisef('LSTM: expected the initial state as a table {h0, c0}, got %s',
      gb.is_tensor(state) and 'a tensor' or type(state))
  end
  state = state or {}
  local h0 = R.state(self, 'LSTM', 'h0', state[1], x3, batched)
  local c0 = R.state(self, 'LSTM', 'c0', state[2], x3, batched)
  local T, B, H = x3:size(1), x3:size(2), self.hidden_size
  local zeros = (h0 == nil or c0 == nil) and gb.zeros({ B, H }, { device = x3.device }) or nil
  local out, finals = R.layers(self, x3, function(sfx, input, k)
    local b = self.bias and self['bias_ih_l' .. sfx] + self['bias_hh_l' .. sfx] or nil
    local xg = R.project(input, self['weight_ih_l' .. sfx], b)
    local rec = gb._lstm_seq(xg, self['weight_hh_l' .. sfx],
      h0 and h0:select(1, k) or zeros, c0 and c0:select(1, k) or zeros)
    local last = rec:select(1, T + 1)
    -- the h slot first, then the steps: backward then pads a (T+1,B,H) gradient to the record
    -- once, instead of a (T,B,6H) one and again (a third of the bytes filled and copied)
    return rec:narrow(3, 1, H):narrow(1, 2, T), { last:narrow(2, 1, H), last:narrow(2, H + 1, H) }
  end)
  return R.output(self, out, batched),
         { R.final(gb.stack(finals[1]), batched), R.final(gb.stack(finals[2]), batched) }
end

function LSTM:extra_repr() return R.extra_repr(self) end

return LSTM
