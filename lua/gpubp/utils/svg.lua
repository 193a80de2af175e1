-- utils/svg.lua — line charts as SVG for gb.utils.Logger:plot and lr_find: one or more
-- panels, each with several series, axes with "nice" ticks (linear or log10), grid lines,
-- axis labels and a legend. Pure string building; no dependencies.

local svg = {}

local COLORS = { '#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#e377c2',
                 '#7f7f7f', '#bcbd22', '#17becf' }
svg.COLORS = COLORS

local function esc(s)
  return (tostring(s):gsub('[&<>"]', { ['&'] = '&amp;', ['<'] = '&lt;', ['>'] = '&gt;',
    ['"'] = '&quot;' }))
end
svg.escape = esc

local function finite(v) return type(v) == 'number' and v == v and v > -math.huge and v < math.huge end

-- Ticks for [lo, hi] at 1, 2 or 5 times a power of ten, about n of them.
function svg.nice_ticks(lo, hi, n)
  n = n or 5
  if hi <= lo then hi = lo + (lo == 0 and 1 or math.abs(lo) * 0.1) end
  local raw = (hi - lo) / n
  local mag = 10 ^ math.floor(math.log(raw, 10))
  local step = mag
  for _, m in ipairs({ 1, 2, 5, 10 }) do
    if m * mag >= raw then step = m * mag break end
  end
  local t0 = math.floor(lo / step + 1e-9) * step
  local t1 = math.ceil(hi / step - 1e-9) * step
  local out = {}
  for k = 0, math.floor((t1 - t0) / step + 0.5) do out[#out + 1] = t0 + k * step end
  return out, t0, t1, step
end

local function fmt_tick(v, step)
  if v == 0 then return '0' end
  local a = math.abs(v)
  if a >= 1e5 or a < 1e-3 then return string.format('%.0e', v) end
  local digits = math.max(0, -math.floor(math.log(step, 10) + 1e-9))
  return string.format('%.' .. digits .. 'f', v)
end

local function fmt_pow10(e)
  if e >= 0 and e <= 3 then return string.format('%d', math.floor(10 ^ e + 0.5)) end
  return string.format('1e%d', e)
end

-- Range and ticks of one axis over the values `vals` (log: powers of ten).
local function axis(vals, log, lo, hi)
  local mn, mx = math.huge, -math.huge
  for _, v in ipairs(vals) do
    if finite(v) and (not log or v > 0) then
      mn, mx = math.min(mn, v), math.max(mx, v)
    end
  end
  if lo then mn = lo end
  if hi then mx = hi end
  if mn == math.huge then mn, mx = log and 1e-3 or 0, log and 1 or 1 end
  if log then
    local e0, e1 = math.floor(math.log(mn, 10) + 1e-9), math.ceil(math.log(mx, 10) - 1e-9)
    if e1 <= e0 then e1 = e0 + 1 end
    local ticks, labels = {}, {}
    local every = math.max(1, math.ceil((e1 - e0) / 8))
    for e = e0, e1, every do ticks[#ticks + 1] = e; labels[#labels + 1] = fmt_pow10(e) end
    return { lo = e0, hi = e1, ticks = ticks, labels = labels, log = true,
             map = function(v) return math.log(v, 10) end }
  end
  local ticks, t0, t1, step = svg.nice_ticks(mn, mx, 5)
  local integral = #vals > 0
  for _, v in ipairs(vals) do
    if finite(v) and math.type(v) ~= 'integer' and v ~= math.floor(v) then integral = false break end
  end
  if integral and step < 1 then -- epochs and steps: whole-number ticks only
    ticks, t0, t1, step = {}, math.floor(mn), math.max(math.ceil(mx), math.floor(mn) + 1), 1
    for t = t0, t1 do ticks[#ticks + 1] = t end
  end
  local labels = {}
  for i, t in ipairs(ticks) do labels[i] = fmt_tick(t, step) end
  return { lo = t0, hi = t1, ticks = ticks, labels = labels, log = false,
           map = function(v) return v end }
end

-- One panel into `out` at (x0, y0) of size (w, h). p = {title=, xlabel=, ylabel=,
-- series = {{name=, x={...}, y={...}, color=}...}, xlog=, ylog=, ymin=, ymax=, marks=}
local function panel(out, p, x0, y0, w, h)
  local function add(fmt, ...) out[#out + 1] = string.format(fmt, ...) end
  local xs, ys = {}, {}
  for _, s in ipairs(p.series) do
    for i = 1, #s.y do xs[#xs + 1] = s.x[i]; ys[#ys + 1] = s.y[i] end
  end
  local ax, ay = axis(xs, p.xlog, p.xmin, p.xmax), axis(ys, p.ylog, p.ymin, p.ymax)
  local function px(v) return x0 + (ax.map(v) - ax.lo) / (ax.hi - ax.lo) * w end
  local function py(v) return y0 + h - (ay.map(v) - ay.lo) / (ay.hi - ay.lo) * h end
  add('<rect x="%d" y="%d" width="%d" height="%d" fill="#fcfcfc" stroke="#444"/>', x0, y0, w, h)
  for i, t in ipairs(ay.ticks) do
    local y = y0 + h - (t - ay.lo) / (ay.hi - ay.lo) * h
    add('<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="#e3e3e3"/>', x0, y, x0 + w, y)
    add('<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="#444"/>', x0 - 5, y, x0, y)
    add('<text x="%d" y="%.1f" text-anchor="end" class="tick">%s</text>', x0 - 8, y + 4,
      esc(ay.labels[i]))
  end
  for i, t in ipairs(ax.ticks) do
    local x = x0 + (t - ax.lo) / (ax.hi - ax.lo) * w
    add('<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="#e3e3e3"/>', x, y0, x, y0 + h)
    add('<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="#444"/>', x, y0 + h, x, y0 + h + 5)
    add('<text x="%.1f" y="%d" text-anchor="middle" class="tick">%s</text>', x, y0 + h + 19,
      esc(ax.labels[i]))
  end
  if p.title then
    add('<text x="%d" y="%d" text-anchor="middle" class="title">%s</text>', x0 + w // 2, y0 - 12,
      esc(p.title))
  end
  if p.xlabel then
    add('<text x="%d" y="%d" text-anchor="middle">%s</text>', x0 + w // 2, y0 + h + 40, esc(p.xlabel))
  end
  if p.ylabel then
    add('<text transform="translate(%d,%d) rotate(-90)" text-anchor="middle">%s</text>', x0 - 52,
      y0 + h // 2, esc(p.ylabel))
  end
  add('<g clip-path="url(#clip%d)">', p.id)
  for k, s in ipairs(p.series) do
    local color = s.color or COLORS[(k - 1) % #COLORS + 1]
    local pts, seg = {}, {}
    local function flush()
      if #seg > 1 then
        pts[#pts + 1] = string.format('<polyline fill="none" stroke="%s" stroke-width="2" '
          .. 'stroke-linejoin="round" points="%s"/>', color, table.concat(seg, ' '))
      elseif #seg == 1 then
        local x, y = seg[1]:match('([^,]+),(.+)')
        pts[#pts + 1] = string.format('<circle cx="%s" cy="%s" r="3" fill="%s"/>', x, y, color)
      end
      seg = {}
    end
    for i = 1, #s.y do
      local x, y = s.x[i], s.y[i]
      if finite(x) and finite(y) and (not p.ylog or y > 0) and (not p.xlog or x > 0) then
        seg[#seg + 1] = string.format('%.1f,%.1f', px(x), py(y))
      else
        flush()
      end
    end
    flush()
    if #s.y <= 30 then -- few points: mark each one
      for i = 1, #s.y do
        local x, y = s.x[i], s.y[i]
        if finite(x) and finite(y) and (not p.ylog or y > 0) and (not p.xlog or x > 0) then
          pts[#pts + 1] = string.format('<circle cx="%.1f" cy="%.1f" r="2.5" fill="%s"/>', px(x),
            py(y), color)
        end
      end
    end
    for _, e in ipairs(pts) do out[#out + 1] = e end
  end
  for _, m in ipairs(p.marks or {}) do
    if finite(m.x) and (not p.xlog or m.x > 0) then
      local x = px(m.x)
      add('<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="#555" stroke-dasharray="5,4"/>',
        x, y0, x, y0 + h)
      add('<text x="%.1f" y="%d" class="mark">%s</text>', x + 4, y0 + h - 8, esc(m.label or ''))
    end
  end
  add('</g>')
  -- legend: top right inside the panel, one row per series
  if #p.series > 1 or p.legend then
    local lw = 0
    for _, s in ipairs(p.series) do lw = math.max(lw, #tostring(s.name)) end
    lw = lw * 7 + 34
    local lx, ly = x0 + w - lw - 8, y0 + 8
    add('<rect x="%d" y="%d" width="%d" height="%d" fill="white" fill-opacity="0.85" '
      .. 'stroke="#bbb"/>', lx, ly, lw, 18 * #p.series + 6)
    for k, s in ipairs(p.series) do
      local color = s.color or COLORS[(k - 1) % #COLORS + 1]
      local yy = ly + 15 + 18 * (k - 1)
      add('<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="%s" stroke-width="3"/>', lx + 6, yy - 4,
        lx + 24, yy - 4, color)
      add('<text x="%d" y="%d">%s</text>', lx + 29, yy, esc(s.name))
    end
  end
end

-- A document of `panels` laid out in `cols` columns; returns the SVG text.
function svg.chart(panels, opts)
  opts = opts or {}
  local cols = opts.cols or math.min(#panels, 2)
  local W, H = opts.panel_width or 420, opts.panel_height or 260
  local ML, MT, MR, MB = 78, 52, 24, 58
  local top = opts.title and 30 or 0
  local rows = math.ceil(#panels / cols)
  local tw, th = cols * (ML + W + MR), top + rows * (MT + H + MB)
  local out = {}
  out[#out + 1] = string.format('<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" '
    .. 'viewBox="0 0 %d %d" font-family="DejaVu Sans, Arial, sans-serif" font-size="12">', tw, th, tw, th)
  out[#out + 1] = '<style>.tick{font-size:11px;fill:#333}.title{font-size:14px;font-weight:bold}'
    .. '.mark{font-size:11px;fill:#333}</style>'
  out[#out + 1] = '<defs>'
  for i = 1, #panels do
    local c, r = (i - 1) % cols, (i - 1) // cols
    out[#out + 1] = string.format('<clipPath id="clip%d"><rect x="%d" y="%d" width="%d" height="%d"/>'
      .. '</clipPath>', i, c * (ML + W + MR) + ML, top + r * (MT + H + MB) + MT, W, H)
  end
  out[#out + 1] = '</defs>'
  out[#out + 1] = string.format('<rect width="%d" height="%d" fill="white"/>', tw, th)
  if opts.title then
    out[#out + 1] = string.format('<text x="%d" y="22" font-size="16" text-anchor="middle">%s</text>',
      tw // 2, esc(opts.title))
  end
  for i, p in ipairs(panels) do
    p.id = i
    local c, r = (i - 1) % cols, (i - 1) // cols
    panel(out, p, c * (ML + W + MR) + ML, top + r * (MT + H + MB) + MT, W, H)
  end
  out[#out + 1] = '</svg>'
  return table.concat(out, '\n') .. '\n'
end

-- Writes text to path atomically enough for a chart; returns true or raises naming the file.
function svg.write(path, text, who)
  local f, err = io.open(path, 'w')
  if not f then error(string.format('%s: cannot write %s: %s', who or 'svg', path, tostring(err)), 0) end
  f:write(text)
  f:close()
  return true
end

return svg
