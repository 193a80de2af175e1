-- utils/progress.lua — gb.utils.progress: a tqdm-like progress meter for any loop. On a
-- terminal it redraws one line (at most every `interval` seconds, so a step costs a counter
-- increment and a clock read); on a pipe or file it prints plain lines at every tenth of the
-- total (or every `pipe_interval` seconds when the total is unknown); `quiet` prints nothing.

local class = require('gpubp.class')
local check = require('gpubp.utils.check')
local gb = class.gb

local Progress = class.Object:extend('Progress')

local OPTIONS = {
  desc = '', total = check.NONE, quiet = false, file = check.NONE, tty = check.NONE,
  interval = 0.1, pipe_interval = 10, lines = 10, monitor = check.NONE, unit = 'it',
  average = false,
}

local function callable(v)
  if type(v) == 'function' then return true end
  local mt = getmetatable(v)
  return type(mt) == 'table' and mt.__call ~= nil
end

-- progress(n | list | iterator function | iterable (a table with __call, e.g. a DataLoader)
-- [, {desc=, total=, quiet=false, file=io.stderr, tty=auto, interval=0.1, pipe_interval=10,
-- lines=10, monitor=, unit='it', average=false}])
function Progress:init(src, opts)
  if check.is_options(src) and next(src) ~= nil and opts == nil then src, opts = nil, src end
  local o = check.options('progress', opts, OPTIONS)
  local total = o.total
  if math.type(src) == 'integer' then
    total = total or src
    local i = 0
    self._next = function()
      i = i + 1
      if i <= src then return i end
    end
  elseif type(src) == 'table' and not callable(src) then
    total = total or #src
    local i = 0
    self._next = function()
      i = i + 1
      if i <= #src then return src[i] end
    end
  elseif callable(src) then
    if type(src) == 'table' then
      local ok, n = pcall(function() return #src end)
      if ok and math.type(n) == 'integer' then total = total or n end
      local f, s, c = src()
      self._next = function()
        local r = table.pack(f(s, c))
        c = r[1]
        return table.unpack(r, 1, r.n)
      end
    else
      self._next = src
    end
  elseif src ~= nil then
    check.raise('progress: expected a count, a list, an iterator or an iterable, got ' .. type(src))
  end
  if total ~= nil and (type(total) ~= 'number' or total < 0) then
    check.raise('progress: total must be a non-negative number, got ' .. tostring(total))
  end
  self.total, self.n, self.desc, self.unit = total, 0, o.desc, o.unit
  self.quiet, self.monitor, self.average = o.quiet, o.monitor, o.average
  self.file = o.file or io.stderr
  local tty = o.tty
  if tty == nil then
    local ok, v = pcall(gb.isatty, self.file)
    tty = ok and v
  end
  self.tty, self.interval, self.pipe_interval, self.lines = tty, o.interval, o.pipe_interval, o.lines
  self.metrics, self.names, self.sums, self.counts = {}, {}, {}, {}
  self.start = gb.time()
  self.last_draw, self.last_line, self.next_mark = self.start, self.start, 1
  self.closed, self.pending = false, false
  if not self.quiet and self.tty then self:_draw(self.start) end
end

-- Records `k` more finished steps (default 1) and the metrics (numbers or one-element
-- tensors, read only when a line is drawn); redraws when it is time.
function Progress:update(k, metrics)
  if type(k) == 'table' then k, metrics = 1, k end
  self.n = self.n + (k or 1)
  if metrics then self:set(metrics) end
  if self.quiet then return end
  local now = gb.time()
  if self.tty then
    if now - self.last_draw >= self.interval then self:_draw(now) end
  elseif self.total and self.total > 0 then
    local mark = self.next_mark
    if self.n * self.lines >= mark * self.total and self.n < self.total then
      while self.n * self.lines >= self.next_mark * self.total do self.next_mark = self.next_mark + 1 end
      self:_line(now)
    end
  elseif now - self.last_line >= self.pipe_interval then
    self:_line(now)
  end
end

-- Sets the metrics shown without counting a step (tqdm's set_postfix).
function Progress:set(metrics)
  local m, names = self.metrics, self.names
  for k, v in pairs(metrics) do
    if m[k] == nil then
      names[#names + 1] = k
      table.sort(names)
    end
    m[k] = v
    if self.average then self.pending = true end
  end
  if self.average then
    for k, v in pairs(metrics) do
      local x = type(v) == 'number' and v or v:item()
      self.sums[k] = (self.sums[k] or 0) + x
      self.counts[k] = (self.counts[k] or 0) + 1
    end
  end
end

local function fmt_time(s)
  if s ~= s or s == math.huge then return '?' end
  if s >= 3600 then return string.format('%dh%02dm', s // 3600, math.floor(s % 3600 / 60)) end
  if s >= 60 then return string.format('%dm%02ds', s // 60, math.floor(s % 60)) end
  return string.format('%.1fs', s)
end
Progress.format_time = fmt_time

local function fmt_value(v)
  if type(v) ~= 'number' then
    local ok, x = pcall(function() return v:item() end)
    if not ok then return tostring(v) end
    v = x
  end
  if v ~= v then return 'nan' end
  if math.type(v) == 'integer' then return tostring(v) end
  local a = math.abs(v)
  if a ~= 0 and (a < 1e-3 or a >= 1e5) then return string.format('%.3e', v) end
  return string.format('%.4f', v)
end

-- The text of the line at time `now`: count, percentage, rate, elapsed/ETA and metrics.
function Progress:_text(now)
  now = now or gb.time()
  local el = now - self.start
  local rate = el > 0 and self.n / el or 0
  local parts = {}
  if self.desc ~= '' then parts[#parts + 1] = self.desc end
  if self.total then
    local pct = self.total > 0 and 100 * self.n / self.total or 100
    parts[#parts + 1] = string.format('%d/%d [%3.0f%%]', self.n, self.total, pct)
  else
    parts[#parts + 1] = string.format('%d %s', self.n, self.unit)
  end
  parts[#parts + 1] = string.format('%.1f %s/s', rate, self.unit)
  if self.total and not self.closed and self.n < self.total then
    parts[#parts + 1] = 'ETA ' .. (rate > 0 and fmt_time((self.total - self.n) / rate) or '?')
  else
    parts[#parts + 1] = fmt_time(el)
  end
  for _, k in ipairs(self.names) do
    local v = self.metrics[k]
    if self.average and self.counts[k] then v = self.sums[k] / self.counts[k] end
    parts[#parts + 1] = k .. ' ' .. fmt_value(v)
  end
  if self.monitor and self.monitor.status then parts[#parts + 1] = self.monitor:status() end
  return table.concat(parts, '  ')
end

function Progress:_draw(now)
  self.last_draw = now
  self.file:write('\r\27[K', self:_text(now))
  self.file:flush()
end

function Progress:_line(now)
  self.last_line = now
  self.file:write(self:_text(now), '\n')
  self.file:flush()
end

-- Finishes the meter: the final line (kept on a terminal), once.
function Progress:close()
  if self.closed then return end
  self.closed = true
  if self.quiet then return end
  local now = gb.time()
  if self.tty then
    self.file:write('\r\27[K', self:_text(now), '\n')
    self.file:flush()
  else
    self:_line(now)
  end
end

-- Iterating the meter yields the items of its source, counting the previous item as done.
function Progress:__call()
  if not self._next then check.raise('progress: this meter has nothing to iterate (built from no source)') end
  if self.started then self:update(1) end
  self.started = true
  local r = table.pack(self._next())
  if r[1] == nil then
    self:close()
    return nil
  end
  return table.unpack(r, 1, r.n)
end

Progress.__close = Progress.close

function Progress:__tostring()
  return 'Progress(' .. self:_text() .. ')'
end

return Progress
