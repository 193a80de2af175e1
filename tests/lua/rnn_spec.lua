-- rnn_spec.lua — nn.LSTM, nn.GRU and their cells against PyTorch 1.13: random weights, inputs,
-- outputs and every gradient written by PyTorch (tests/fixtures/rnn/make_rnn.py, one
-- safetensors file per case, PyTorch's parameter names), loaded here with load_state_dict.
-- Also the options, the shapes of each input layout and the errors.
-- Run: build/gpubp /usr/bin/busted tests/lua/rnn_spec.lua

local gb = require('gpubp')
local nn = gb.nn

local DIR = 'tests/fixtures/rnn/'
local support = dofile('tests/lua/support.lua')
local assert_close = support.assert_close_1e4
local function load_case(name) return support.load_torch_case(DIR, name) end

-- Builds the layer from the file's metadata and weights, runs forward and the case's loss,
-- and compares outputs and gradients (every parameter, the input, the initial states).
local function check_case(name, cls, lstm)
  local params, inputs, outs, grads, meta = load_case(name)
  local m = cls(tonumber(meta.input_size), tonumber(meta.hidden_size), {
    num_layers = tonumber(meta.num_layers), batch_first = meta.batch_first == '1',
    bias = meta.bias == '1', bidirectional = meta.bidirectional == '1',
  })
  m:load_state_dict(params)
  local x = inputs.x:clone():requires_grad_()
  local h0 = inputs.h0 and inputs.h0:clone():requires_grad_()
  local c0 = inputs.c0 and inputs.c0:clone():requires_grad_()
  local y, state
  if lstm then
    y, state = m(x, h0 and { h0, c0 } or nil)
  else
    y, state = m(x, h0)
  end
  local h_n, c_n = lstm and state[1] or state, lstm and state[2] or nil
  assert_close(name .. ' output', y, outs.output)
  assert_close(name .. ' h_n', h_n, outs.h_n)
  if lstm then assert_close(name .. ' c_n', c_n, outs.c_n) end
  local loss = (y * inputs.w_output):sum() + (h_n * inputs.w_h_n):sum()
  if lstm then loss = loss + (c_n * inputs.w_c_n):sum() end
  assert_close(name .. ' loss', loss:view(1), outs.loss)
  loss:backward()
  local n = 0
  for _, np in ipairs(m:named_parameters()) do
    local k, p = np[1], np[2]
    assert(grads[k], name .. ': no recorded gradient for ' .. k)
    assert_close(name .. ' grad ' .. k, p.grad, grads[k])
    n = n + 1
  end
  local pcount = 0
  for _ in pairs(params) do pcount = pcount + 1 end
  assert.are.equal(pcount, n)
  assert_close(name .. ' grad x', x.grad, grads.x)
  if h0 then assert_close(name .. ' grad h0', h0.grad, grads.h0) end
  if c0 then assert_close(name .. ' grad c0', c0.grad, grads.c0) end
end

describe('nn.LSTM against PyTorch', function()
  it('2 layers, initial states, (T, B, F)', function()
    check_case('lstm_2layer_state', nn.LSTM, true)
  end)
  it('batch_first, no bias, zero initial state', function()
    check_case('lstm_batch_first_nobias', nn.LSTM, true)
  end)
  it('bidirectional, 2 layers, batch_first, initial states (the *_reverse weights)', function()
    check_case('lstm_bidirectional_2layer_state', nn.LSTM, true)
  end)
end)

describe('nn.GRU against PyTorch', function()
  it('2 layers, initial state, (T, B, F)', function()
    check_case('gru_2layer_state', nn.GRU, false)
  end)
  it('batch_first, no bias, zero initial state', function()
    check_case('gru_batch_first_nobias', nn.GRU, false)
  end)
  it('bidirectional, 2 layers, (T, B, F), zero initial state', function()
    check_case('gru_bidirectional_2layer', nn.GRU, false)
  end)
end)

describe('nn.LSTM and nn.GRU', function()
  it('have PyTorch parameter names and shapes', function()
    local m = nn.LSTM(3, 5, { num_layers = 2 })
    local sd = m:state_dict()
    assert.are.same({ 20, 3 }, sd.weight_ih_l0.shape)
    assert.are.same({ 20, 5 }, sd.weight_ih_l1.shape)
    assert.are.same({ 20, 5 }, sd.weight_hh_l1.shape)
    assert.are.same({ 20 }, sd.bias_hh_l1.shape)
    local g = nn.GRU(3, 5, { bias = false })
    local names = {}
    for k in pairs(g:state_dict()) do names[#names + 1] = k end
    table.sort(names)
    assert.are.same({ 'weight_hh_l0', 'weight_ih_l0' }, names)
    assert.are.equal('LSTM(3, 5, num_layers=2)', tostring(m))
  end)

  it('initialize every weight in U(-1/sqrt(H), 1/sqrt(H))', function()
    gb.manual_seed(3)
    local m = nn.LSTM(4, 16)
    for _, p in ipairs(m:parameters()) do
      assert.is_true(p:abs():max():item() <= 0.25)
      assert.is_true(p:abs():max():item() > 0.2)
    end
  end)

  it('run an unbatched (T, F) input as a batch of one', function()
    gb.manual_seed(1)
    local m = nn.GRU(3, 4, { num_layers = 2 })
    local x = gb.randn(5, 3)
    local y, h = m(x)
    assert.are.same({ 5, 4 }, y.shape)
    assert.are.same({ 2, 4 }, h.shape)
    local yb = m(x:unsqueeze(2))
    assert.are.same(yb:squeeze(2):totable(), y:totable())
  end)

  it('match a step-by-step run of the cells with the same weights', function()
    gb.manual_seed(2)
    local m = nn.LSTM(3, 4)
    local cell = nn.LSTMCell(3, 4)
    cell:load_state_dict({ weight_ih = m.weight_ih_l0, weight_hh = m.weight_hh_l0,
      bias_ih = m.bias_ih_l0, bias_hh = m.bias_hh_l0 })
    local x = gb.randn(4, 2, 3)
    local y = m(x)
    local h, c
    for t = 1, 4 do
      h, c = cell(x[t], h and { h, c } or nil)
      assert_close('step ' .. t, h, y[t])
    end
    local g = nn.GRU(3, 4)
    local gc = nn.GRUCell(3, 4)
    gc:load_state_dict({ weight_ih = g.weight_ih_l0, weight_hh = g.weight_hh_l0,
      bias_ih = g.bias_ih_l0, bias_hh = g.bias_hh_l0 })
    local yg = g(x)
    local hg
    for t = 1, 4 do
      hg = gc(x[t], hg)
      assert_close('gru step ' .. t, hg, yg[t])
    end
  end)

  it('apply dropout between layers only in training mode', function()
    gb.manual_seed(5)
    local m = nn.LSTM(3, 8, { num_layers = 2, dropout = 0.5 })
    local x = gb.randn(4, 2, 3)
    m:eval()
    local a, b = m(x), m(x)
    assert.are.same(a:totable(), b:totable())
    m:train()
    local c = m(x)
    assert.is_true((c - a):abs():max():item() > 1e-4)
    -- one layer: nothing between layers, so training changes nothing
    local one = nn.GRU(3, 8, { dropout = 0.5 })
    local p = one(x)
    one:eval()
    assert.are.same(p:totable(), one(x):totable())
  end)

  it('propagate a NaN in the input to the outputs', function()
    local m = nn.LSTM(2, 3)
    local x = gb.zeros(3, 1, 2)
    x[2][1][1] = 0 / 0
    local y, s = m(x)
    local v = y[1]:totable()[1][1]
    assert.is_true(v == v)
    v = y[3]:totable()[1][1]
    assert.is_true(v ~= v)
    v = s[2]:totable()[1][1][1]
    assert.is_true(v ~= v)
    local g = nn.GRU(2, 3)
    local yg = g(x)
    v = yg[2]:totable()[1][1]
    assert.is_true(v ~= v)
  end)

  it('raise clear errors', function()
    local m = nn.LSTM(3, 4, { num_layers = 2 })
    assert.has_error(function() m(gb.zeros(5, 2, 4)) end,
      'LSTM: expected input of shape (T, B, 3) or (T, 3), got (5, 2, 4)')
    assert.has_error(function() m(gb.zeros(5, 2, 3), { gb.zeros(1, 2, 4), gb.zeros(2, 2, 4) }) end,
      'LSTM: expected h0 of shape (2, 2, 4), got (1, 2, 4)')
    assert.has_error(function() m(gb.zeros(5, 2, 3), gb.zeros(2, 2, 4)) end,
      'LSTM: expected the initial state as a table {h0, c0}, got a tensor')
    assert.has_error(function() nn.GRU(3, 4, { bidirectional = 1 }) end,
      "GRU: option 'bidirectional' expects a boolean, got number")
    local bi = nn.GRU(3, 4, { bidirectional = true, num_layers = 2 })
    assert.are.same({ 12, 8 }, bi.weight_ih_l1_reverse.shape)
    assert.are.equal('GRU(3, 4, num_layers=2, bidirectional=true)', tostring(bi))
    local y, hn = bi(gb.zeros(5, 3))
    assert.are.same({ 5, 8 }, y.shape)
    assert.are.same({ 4, 4 }, hn.shape)
    assert.has_error(function() bi(gb.zeros(5, 2, 3), gb.zeros(2, 2, 4)) end,
      'GRU: expected h0 of shape (4, 2, 4), got (2, 2, 4)')
    assert.has_error(function() nn.GRU(3, 0) end,
      'GRU: hidden_size must be a positive integer, got 0')
    assert.has_error(function() nn.LSTM(3, 4, { dropout = 2 }) end,
      'LSTM: dropout must be a probability in [0, 1], got 2')
    assert.has_error(function() nn.GRU(3, 4)(gb.zeros(5, 2, 3), { 1 }) end,
      'GRU: expected the initial state h0 as a tensor, got table')
    assert.has_error(function() nn.LSTMCell(3, 4)(gb.zeros(2, 5)) end,
      'LSTMCell: expected input of shape (B, 3) or (3), got (2, 5)')
    assert.has_error(function() nn.GRUCell(3, 4)(gb.zeros(2, 3), gb.zeros(3, 4)) end,
      'GRUCell: expected h of shape (2, 4), got (3, 4)')
    assert.has_error(function() gb._lstm_seq(gb.zeros(2, 1, 8), gb.zeros(8, 2), gb.zeros(1, 2), gb.zeros(1, 3)) end,
      'lstm_seq: (2,1,8), (8,2), (1,2), (1,3): expected input projections (T,B,4H), w_hh (4H,H), h0 and c0 (B,H)')
  end)
end)
