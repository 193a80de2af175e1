-- utils/Logger.lua — gb.utils.Logger: scalars per step and per epoch, kept in memory and
-- appended to a CSV or JSONL file, and plotted as SVG line charts (loss, accuracy, lr on a
-- log scale, gradient norms; several series per panel, ticks, legend).

local class = require('gpubp.class')
local check = require('gpubp.utils.check')
local svg = require('gpubp.utils.svg')
local host_metric = require('gpubp.core').host_metric -- the embedding host's metrics hook

local Logger = class.Object:extend('Logger')

local function scalar(name, v)
  if type(v) == 'number' then return v end
  if type(v) == 'boolean' then return v and 1 or 0 end
  local ok, x = pcall(function() return v:item() end)
  if ok and type(x) == 'number' then return x end
  check.raise(string.format("Logger: value '%s' is a %s, expected a number or a one-element tensor",
    tostring(name), type(v)))
end

-- Logger([path] [, {format='csv'|'jsonl' (default from the extension), append=false}]).
-- Without a path the scalars are only kept in memory (for plot and series).
function Logger:init(path, opts)
  if type(path) == 'table' and opts == nil then path, opts = path.path, path end
  local o = check.options('Logger', opts, { path = check.NONE, format = check.NONE, append = false })
  path = path or o.path
  if path ~= nil and type(path) ~= 'string' then
    check.raise('Logger: expected a file path (string), got ' .. type(path))
  end
  local fmt = o.format or (path and path:match('%.jsonl?$') and 'jsonl') or 'csv'
  if fmt ~= 'csv' and fmt ~= 'jsonl' then
    check.raise("Logger: format must be 'csv' or 'jsonl', got '" .. tostring(fmt) .. "'")
  end
  self.path, self.format = path, fmt
  self.rows, self.columns, self.known = {}, {}, {}
  self.step, self.epoch = 0, 0
  if path then
    local f, err = io.open(path, o.append and 'a' or 'w')
    if not f then check.raise('Logger: cannot open ' .. path .. ': ' .. tostring(err)) end
    self.file = f
  end
end

local function json_number(v)
  if v ~= v or v == math.huge or v == -math.huge then return 'null' end
  if math.type(v) == 'integer' then return tostring(v) end
  return string.format('%.17g', v)
end

local function json_string(s)
  return '"' .. tostring(s):gsub('[%c"\\]', function(c)
    return string.format('\\u%04x', c:byte())
  end) .. '"'
end

local function csv_cell(v)
  if v == nil then return '' end
  if type(v) == 'string' then return v end
  if math.type(v) == 'integer' then return tostring(v) end
  return string.format('%.9g', v)
end

function Logger:_csv_line(row)
  local cells = { row.kind, tostring(row.step), tostring(row.epoch) }
  for _, c in ipairs(self.columns) do cells[#cells + 1] = csv_cell(row.values[c]) end
  return table.concat(cells, ',') .. '\n'
end

function Logger:_csv_header()
  return 'kind,step,epoch' .. (#self.columns > 0 and ',' .. table.concat(self.columns, ',') or '') .. '\n'
end

-- A new column in a CSV file rewrites it with the wider header (rare: first rows only).
function Logger:_write_row(row, new_columns)
  local f = self.file
  if not f then return end
  if self.format == 'jsonl' then
    local parts = { '"kind":' .. json_string(row.kind), '"step":' .. row.step, '"epoch":' .. row.epoch }
    for _, k in ipairs(row.order) do
      parts[#parts + 1] = json_string(k) .. ':' .. json_number(row.values[k])
    end
    f:write('{', table.concat(parts, ','), '}\n')
  elseif new_columns or #self.rows == 1 then
    f:close()
    f = assert(io.open(self.path, 'w'))
    self.file = f
    f:write(self:_csv_header())
    for _, r in ipairs(self.rows) do f:write(self:_csv_line(r)) end
  else
    f:write(self:_csv_line(row))
  end
end

function Logger:_record(kind, values, at)
  if type(values) ~= 'table' then
    check.raise('Logger:' .. (kind == 'step' and 'log' or 'log_epoch')
      .. ': expected a table of scalars, got ' .. type(values))
  end
  local row = { kind = kind, values = {}, order = {} }
  local names = {}
  for k in pairs(values) do
    if type(k) ~= 'string' or not k:match('^[%w_%.%-/]+$') then
      check.raise("Logger: scalar names must be strings of letters, digits, _ . - /, got '"
        .. tostring(k) .. "'")
    end
    names[#names + 1] = k
  end
  table.sort(names)
  local new = false
  for _, k in ipairs(names) do
    row.values[k] = scalar(k, values[k])
    row.order[#row.order + 1] = k
    if not self.known[k] then
      self.known[k] = true
      self.columns[#self.columns + 1] = k
      new = true
    end
  end
  if kind == 'step' then
    self.step = at or self.step + 1
  else
    self.epoch = at or self.epoch + 1
  end
  row.step, row.epoch = self.step, kind == 'epoch' and self.epoch or self.epoch + 1
  -- every scalar also goes to the host (gpubp_set_metrics_hook): (name, step, value) for a
  -- step, (name .. '@epoch', epoch, value) for an epoch; a no-op without a hook
  for _, k in ipairs(names) do
    if kind == 'step' then
      host_metric(k, row.step, row.values[k])
    else
      host_metric(k .. '@epoch', row.epoch, row.values[k])
    end
  end
  self.rows[#self.rows + 1] = row
  self:_write_row(row, new)
  if kind == 'epoch' and self.file then self.file:flush() end
  return row
end

-- Records scalars for one step ({loss=, lr=, ...}; numbers or one-element tensors);
-- `step` defaults to the previous step + 1.
function Logger:log(values, step) return self:_record('step', values, step) end

-- Records scalars for one epoch (test accuracy, mean loss ...); flushes the file.
function Logger:log_epoch(values, epoch) return self:_record('epoch', values, epoch) end

-- xs, ys of one scalar: kind 'step', 'epoch' or nil (both; x = the step count when steps
-- were logged, else the epoch).
function Logger:series(name, kind)
  local xs, ys = {}, {}
  local any_steps = false
  for _, r in ipairs(self.rows) do if r.kind == 'step' then any_steps = true break end end
  for _, r in ipairs(self.rows) do
    local v = r.values[name]
    if v ~= nil and (kind == nil or r.kind == kind) then
      xs[#xs + 1] = (any_steps and kind ~= 'epoch') and r.step or r.epoch
      ys[#ys + 1] = v
    end
  end
  return xs, ys
end

local function group_of(name)
  local n = name:lower()
  if n:find('lr') or n:find('learning_rate') then return 'learning rate', true end
  if n:find('grad') or n:find('norm') then return 'gradient norm', true end
  if n:find('loss') then return 'loss', false end
  if n:find('acc') then return 'accuracy', false end
  return name, false
end

-- Writes the logged scalars as an SVG chart: by default one panel per kind of scalar
-- (loss, accuracy, learning rate (log scale), gradient norms (log scale), others alone);
-- opts.panels = {{'loss', 'val_loss', title=, log=}, ...} chooses them; opts.title.
function Logger:plot(path, opts)
  local o = check.options('Logger:plot', opts, { panels = check.NONE, title = check.NONE,
    cols = check.NONE })
  if type(path) ~= 'string' then check.raise('Logger:plot: expected a file path, got ' .. type(path)) end
  local panels, spec = {}, o.panels
  local has_steps, has_epochs = false, false
  for _, r in ipairs(self.rows) do
    if r.kind == 'step' then has_steps = true else has_epochs = true end
  end
  local xlabel = has_steps and 'step' or 'epoch'
  local function series_for(name)
    local out = {}
    if has_steps and has_epochs then
      for _, kind in ipairs({ 'step', 'epoch' }) do
        local xs, ys = self:series(name, kind)
        if #ys > 0 then
          if kind == 'epoch' then
            local xs2 = {}
            for _, r in ipairs(self.rows) do
              if r.kind == 'epoch' and r.values[name] ~= nil then xs2[#xs2 + 1] = r.step end
            end
            xs = xs2
          end
          out[#out + 1] = { name = name .. ' (' .. kind .. ')', x = xs, y = ys }
        end
      end
    else
      local xs, ys = self:series(name)
      if #ys > 0 then out[#out + 1] = { name = name, x = xs, y = ys } end
    end
    return out
  end
  if spec then
    for _, p in ipairs(spec) do
      local panel = { title = p.title or table.concat(p, ', '), series = {}, ylog = p.log,
                      xlabel = xlabel, legend = true }
      for _, name in ipairs(p) do
        for _, s in ipairs(series_for(name)) do panel.series[#panel.series + 1] = s end
      end
      panels[#panels + 1] = panel
    end
  else
    local by_group, order = {}, {}
    for _, name in ipairs(self.columns) do
      local g, log = group_of(name)
      if not by_group[g] then
        by_group[g] = { title = g, series = {}, ylog = log, xlabel = xlabel, legend = true }
        order[#order + 1] = g
      end
      for _, s in ipairs(series_for(name)) do
        local ser = by_group[g].series
        ser[#ser + 1] = s
      end
    end
    for _, g in ipairs(order) do panels[#panels + 1] = by_group[g] end
  end
  if #panels == 0 then check.raise('Logger:plot: nothing has been logged yet') end
  svg.write(path, svg.chart(panels, { title = o.title, cols = o.cols }), 'Logger:plot')
  return path
end

function Logger:flush()
  if self.file then self.file:flush() end
end

function Logger:close()
  if self.file then
    self.file:close()
    self.file = nil
  end
end
Logger.__close = Logger.close

function Logger:__tostring()
  return string.format('Logger(%s, %d rows, %d scalars)', self.path or 'memory', #self.rows,
    #self.columns)
end

return Logger
