/* cli_repl.c — the interactive loop of `gpubp`: reads a chunk (libedit on a terminal, plain
 * lines otherwise), tries it as an expression first ("return <chunk>"), continues incomplete
 * input with a ">> " prompt, runs it with Ctrl-C support (cli_run.c) and prints the results
 * (tensors via __tostring, tables summarized). Each chunk is compiled on its own, as in lua.c,
 * so `local` variables do not outlive their line; globals do. */
#define _GNU_SOURCE /* ppoll */
#include <errno.h>
#include <histedit.h>
#include <limits.h>
#include <locale.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <wchar.h>

#include <lauxlib.h>
#include <lua.h>

#include "cli_common.h"

#define PROMPT1 "> "
#define PROMPT2 ">> "
#define HISTORY_NAME ".gpubp_history"
#define HISTORY_SIZE 1000
#define FORMATTER_KEY "gpubp.cli.format"

/* The REPL's line source: libedit when stdin is a terminal, else plain reads. */
typedef struct repl_input {
  EditLine *el;
  History *hist;
  char histpath[PATH_MAX];
  const char *prompt;
  lua_State *L;
  char *plain; /* getline buffer for the non-terminal case */
  size_t plaincap;
  char *chunk; /* the lines of the chunk being read, joined by '\n' */
  size_t chunklen, chunkcap;
  int interrupted; /* set by the ^C key binding */
} repl_input;

/* Lua source of the value printer: tostring for values with __tostring or __name (tensors
 * print through their own __tostring), short summaries for plain tables. */
static const char formatter_src[] =
    "local maxitems, maxlen = 10, 160\n"
    "local tensor_mt = debug.getregistry()['gpubp.Tensor']\n"
    "local fmt\n"
    "local function is_ident(k) return type(k) == 'string' and k:match('^[%a_][%w_]*$') end\n"
    "local function short(v, depth)\n"
    "  local t = type(v)\n"
    "  if t == 'string' then return (string.format('%q', v):gsub('\\\\\\n', '\\\\n')) end\n"
    "  if t == 'table' and not getmetatable(v) then\n"
    "    if depth > 0 then return fmt(v, depth - 1) end\n"
    "    return next(v) == nil and '{}' or '{...}'\n"
    "  end\n"
    "  if t == 'function' then return 'function' end\n"
    "  local mt = debug.getmetatable(v)\n"
    "  if mt ~= nil and mt == tensor_mt then\n"
    "    local ok, s = pcall(function()\n"
    "      return 'tensor(' .. table.concat(v.shape, 'x') .. ', ' .. tostring(v.dtype) ..\n"
    "             ', ' .. tostring(v.device) .. ')' end)\n"
    "    if ok then return s end\n"
    "  end\n"
    "  local s = tostring(v)\n"
    "  local first = s:match('^[^\\n]*')\n"
    "  if #first < #s then s = first .. ' ...' end\n"
    "  return s\n"
    "end\n"
    "fmt = function(tbl, depth)\n"
    "  local parts, len, n = {}, 0, #tbl\n"
    "  local count = 0\n"
    "  for _ in pairs(tbl) do count = count + 1 end\n"
    "  local function add(s)\n"
    "    if #parts >= maxitems or len + #s > maxlen then return false end\n"
    "    parts[#parts + 1] = s; len = len + #s + 2; return true\n"
    "  end\n"
    "  local shown = 0\n"
    "  for i = 1, n do\n"
    "    if not add(short(tbl[i], depth)) then break end\n"
    "    shown = shown + 1\n"
    "  end\n"
    "  if shown == n then\n"
    "    local keys = {}\n"
    "    for k in pairs(tbl) do\n"
    "      if not (math.type(k) == 'integer' and k >= 1 and k <= n) then keys[#keys + 1] = k end\n"
    "    end\n"
    "    table.sort(keys, function(a, b)\n"
    "      local ta, tb = type(a), type(b)\n"
    "      if ta ~= tb then return ta < tb end\n"
    "      if ta == 'number' then return a < b end\n"
    "      if ta == 'string' then\n"
    "        local pa, pb = a:sub(1, 1) == '_', b:sub(1, 1) == '_'\n"
    "        if pa ~= pb then return pb end -- private names last\n"
    "        return a < b\n"
    "      end\n"
    "      return tostring(a) < tostring(b) end)\n"
    "    for _, k in ipairs(keys) do\n"
    "      local ks = is_ident(k) and k or '[' .. short(k, 0) .. ']'\n"
    "      if not add(ks .. '=' .. short(tbl[k], depth)) then break end\n"
    "      shown = shown + 1\n"
    "    end\n"
    "  end\n"
    "  if shown < count then parts[#parts + 1] = '... (' .. count .. ' entries)' end\n"
    "  return '{' .. table.concat(parts, ', ') .. '}'\n"
    "end\n"
    "local function top(v)\n"
    "  if type(v) == 'table' then\n"
    "    local mt = getmetatable(v)\n"
    "    if not (mt and (mt.__tostring or mt.__name)) then return fmt(v, 1) end\n"
    "  end\n"
    "  return tostring(v)\n"
    "end\n"
    "return function(...)\n"
    "  local n, out, multiline = select('#', ...), {}, false\n"
    "  for i = 1, n do\n"
    "    out[i] = top((select(i, ...)))\n"
    "    if out[i]:find('\\n') then multiline = true end\n"
    "  end\n"
    "  return table.concat(out, multiline and '\\n' or '\\t')\n"
    "end\n";

/* ---- input ----------------------------------------------------------------------------- */

static char *prompt_fn(EditLine *el) {
  repl_input *in = NULL;
  el_get(el, EL_CLIENTDATA, &in);
  return (char *)(in && in->prompt ? in->prompt : PROMPT1);
}

/* Tab: complete the Lua name before the cursor; list the candidates when ambiguous. */
static unsigned char complete_fn(EditLine *el, int ch) {
  (void)ch;
  repl_input *in = NULL;
  el_get(el, EL_CLIENTDATA, &in);
  const LineInfo *li = el_line(el);
  const char *start = li->cursor;
  while (start > li->buffer) {
    char c = start[-1];
    if (!(c == '_' || c == '.' || c == ':' || (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
          (c >= 'A' && c <= 'Z') || (unsigned char)c >= 0x80))
      break;
    start--;
  }
  size_t wlen = (size_t)(li->cursor - start);
  char word[512];
  if (wlen >= sizeof word) return CC_ERROR;
  memcpy(word, start, wlen);
  word[wlen] = '\0';
  lua_State *L = in->L;
  int top = lua_gettop(L);
  gb_cli_completions(L, word);
  int n = (int)lua_rawlen(L, -1);
  unsigned char ret = CC_REFRESH;
  if (n == 0) {
    ret = CC_REFRESH_BEEP;
  } else {
    /* longest common prefix of all candidates */
    lua_rawgeti(L, -1, 1);
    size_t common;
    const char *first = lua_tolstring(L, -1, &common);
    for (int i = 2; i <= n; i++) {
      lua_rawgeti(L, -2, i);
      const char *s = lua_tostring(L, -1);
      size_t j = 0;
      while (j < common && s[j] == first[j])
        j++;
      common = j;
      lua_pop(L, 1);
    }
    if (common > wlen) {
      char add[512];
      size_t k = common - wlen < sizeof add - 1 ? common - wlen : sizeof add - 1;
      memcpy(add, first + wlen, k);
      add[k] = '\0';
      el_insertstr(el, add);
    } else if (n > 1) {
      int shown = n > 200 ? 200 : n;
      fputc('\n', stdout);
      size_t col = 0;
      for (int i = 1; i <= shown; i++) {
        lua_rawgeti(L, -2, i);
        const char *s = lua_tostring(L, -1);
        const char *tail = s + strlen(s);
        while (tail > s && tail[-1] != '.' && tail[-1] != ':')
          tail--;
        size_t len = strlen(tail);
        if (col > 0 && col + len + 2 > 78) {
          fputc('\n', stdout);
          col = 0;
        }
        fprintf(stdout, "%s  ", tail);
        col += len + 2;
        lua_pop(L, 1);
      }
      if (shown < n) fprintf(stdout, "\n... and %d more", n - shown);
      fputc('\n', stdout);
      fflush(stdout);
      ret = CC_REDISPLAY;
    }
    lua_pop(L, 1);
  }
  lua_settop(L, top);
  return ret;
}

/* ^C at the prompt drops the line and makes el_gets return. It reaches here as a key: either
 * typed with the terminal's ISIG off, or made up by read_char_fn from a SIGINT. */
static unsigned char interrupt_fn(EditLine *el, int ch) {
  (void)ch;
  repl_input *in = NULL;
  el_get(el, EL_CLIENTDATA, &in);
  in->interrupted = 1;
  return CC_EOF;
}

/* libedit's character source. A SIGINT (Ctrl-C with ISIG on) sets the flag in cli_run.c and
 * becomes a ^C key here, even when it arrived between the prompt being printed and the read
 * starting: SIGINT stays blocked except inside ppoll, which unblocks it atomically. */
static int read_char_fn(EditLine *el, wchar_t *wc) {
  (void)el;
  char buf[MB_LEN_MAX];
  size_t n = 0;
  mbstate_t mbs;
  memset(&mbs, 0, sizeof mbs);
  sigset_t block, old;
  sigemptyset(&block);
  sigaddset(&block, SIGINT);
  for (;;) {
    sigprocmask(SIG_BLOCK, &block, &old);
    if (gb_cli_take_sigint()) {
      sigprocmask(SIG_SETMASK, &old, NULL);
      *wc = 3; /* ^C */
      return 1;
    }
    struct pollfd p = {STDIN_FILENO, POLLIN, 0};
    int r = ppoll(&p, 1, NULL, &old);
    sigprocmask(SIG_SETMASK, &old, NULL);
    if (r < 0) {
      if (errno == EINTR) continue;
      return -1;
    }
    ssize_t got = read(STDIN_FILENO, buf + n, 1);
    if (got < 0) {
      if (errno == EINTR || errno == EAGAIN) continue;
      return -1;
    }
    if (got == 0) return 0; /* end of input */
    n++;
    mbstate_t tmp = mbs;
    size_t k = mbrtowc(wc, buf, n, &tmp);
    if (k == (size_t)-2 && n < sizeof buf) continue; /* incomplete multibyte character */
    if (k == (size_t)-1 || k == (size_t)-2) *wc = (wchar_t)(unsigned char)buf[0];
    return 1;
  }
}

static void history_path(char *out, size_t cap) {
  const char *home = getenv("HOME");
  if (home == NULL || *home == '\0') {
    struct passwd *pw = getpwuid(getuid());
    home = pw ? pw->pw_dir : NULL;
  }
  if (home == NULL || snprintf(out, cap, "%s/%s", home, HISTORY_NAME) >= (int)cap) out[0] = '\0';
}

/* The history file must be a regular file (or not exist yet): libedit's fopen would block
 * forever on a FIFO and write into a device. Otherwise history stays in memory, with a
 * warning once. */
static int history_file_ok(repl_input *in) {
  struct stat sb;
  if (in->histpath[0] == '\0') return 0;
  if (stat(in->histpath, &sb) != 0 || S_ISREG(sb.st_mode)) return 1;
  fprintf(stderr, "%s: %s is not a regular file; history is kept for this session only\n",
          GB_CLI_PROGNAME, in->histpath);
  in->histpath[0] = '\0';
  return 0;
}

static void input_open(repl_input *in, lua_State *L) {
  memset(in, 0, sizeof *in);
  in->L = L;
  in->prompt = PROMPT1;
  if (!isatty(STDIN_FILENO)) return;
  setlocale(LC_CTYPE, ""); /* so libedit reads and shows UTF-8 */
  HistEvent ev;
  in->hist = history_init();
  if (in->hist) {
    history(in->hist, &ev, H_SETSIZE, HISTORY_SIZE);
    history(in->hist, &ev, H_SETUNIQUE, 1);
    history_path(in->histpath, sizeof in->histpath);
    if (history_file_ok(in)) history(in->hist, &ev, H_LOAD, in->histpath);
  }
  in->el = el_init(GB_CLI_PROGNAME, stdin, stdout, stderr);
  if (in->el == NULL) return;
  el_set(in->el, EL_CLIENTDATA, in);
  el_set(in->el, EL_EDITOR, "emacs");
  el_set(in->el, EL_PROMPT, prompt_fn);
  el_set(in->el, EL_SIGNAL, 1);
  el_set(in->el, EL_GETCFN, read_char_fn);
  /* el_wset: libedit's narrow el_set copies ADDFN names and never frees them */
  el_wset(in->el, EL_ADDFN, L"gpubp-interrupt", L"Drop the line", interrupt_fn);
  el_wset(in->el, EL_BIND, L"^C", L"gpubp-interrupt", NULL);
  if (in->hist) el_set(in->el, EL_HIST, history, in->hist);
  el_wset(in->el, EL_ADDFN, L"gpubp-complete", L"Complete a Lua name", complete_fn);
  el_wset(in->el, EL_BIND, L"^I", L"gpubp-complete", NULL);
  el_source(in->el, NULL); /* the user's ~/.editrc, if any */
}

static void input_close(repl_input *in) {
  if (in->el) el_end(in->el);
  if (in->hist) history_end(in->hist);
  free(in->plain);
  free(in->chunk);
}

static void input_remember(repl_input *in, const char *chunk) {
  if (in->hist == NULL || chunk[0] == '\0') return;
  HistEvent ev;
  history(in->hist, &ev, H_ENTER, chunk);
  if (history_file_ok(in)) history(in->hist, &ev, H_SAVE, in->histpath);
}

enum { READ_OK, READ_EOF, READ_INTERRUPTED };

/* Reads one line (without its newline) into a new Lua string on L's stack. */
static int input_read(repl_input *in, const char *prompt) {
  lua_State *L = in->L;
  in->prompt = prompt;
  if (in->el) {
    int count = 0;
    in->interrupted = 0;
    gb_cli_take_sigint();
    errno = 0;
    const char *line = el_gets(in->el, &count);
    if (in->interrupted || gb_cli_take_sigint() || (line == NULL && errno == EINTR)) {
      fputc('\n', stdout);
      fflush(stdout);
      return READ_INTERRUPTED;
    }
    if (line == NULL || count <= 0) return READ_EOF;
    size_t n = strlen(line);
    if (n > 0 && line[n - 1] == '\n') n--;
    lua_pushlstring(L, line, n);
    return READ_OK;
  }
  ssize_t n = getline(&in->plain, &in->plaincap, stdin);
  if (n < 0) return READ_EOF;
  if (n > 0 && in->plain[n - 1] == '\n') n--;
  lua_pushlstring(L, in->plain, (size_t)n);
  return READ_OK;
}

/* ---- compiling a chunk ----------------------------------------------------------------- */

/* A syntax error that only says the input ended early: ask for more lines. */
static int incomplete(lua_State *L, int status) {
  if (status != LUA_ERRSYNTAX) return 0;
  size_t len;
  const char *msg = lua_tolstring(L, -1, &len);
  const char *eof = "<eof>";
  size_t el = strlen(eof);
  return len >= el && strcmp(msg + len - el, eof) == 0;
}

/* Compiles the source string on top of the stack, first as `return <src>` (so expressions
 * print), then as statements. Replaces it with the function (LUA_OK) or an error message. */
static int compile(lua_State *L, int *is_expr) {
  size_t len;
  const char *src = lua_tolstring(L, -1, &len);
  const char *retsrc = lua_pushfstring(L, "return %s", src);
  int status = luaL_loadbuffer(L, retsrc, strlen(retsrc), "=stdin");
  if (status == LUA_OK) {
    lua_remove(L, -2); /* the "return" string */
    lua_remove(L, -2); /* the source */
    *is_expr = 1;
    return LUA_OK;
  }
  lua_pop(L, 2);
  *is_expr = 0;
  status = luaL_loadbuffer(L, src, len, "=stdin");
  lua_remove(L, -2);
  return status;
}

/* Ends with ';' once trailing spaces are dropped? Then the value is not printed. */
static int ends_with_semicolon(const char *s) {
  size_t n = strlen(s);
  while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r'))
    n--;
  return n > 0 && s[n - 1] == ';';
}

/* Where a chunk stands lexically, updated line by line, so that a pasted block is not
 * recompiled after every line (which made a 40,000-line paste quadratic). A chunk with an
 * open bracket, block, long string or continued string cannot compile yet; only a compile
 * tells whether any other chunk is complete, so the scanner never merges complete chunks. */
typedef struct chunk_scan {
  int depth;   /* ( [ { function do if repeat, minus ) ] } end until */
  int long_eq; /* inside a long string or comment: the number of '=' of its bracket; else -1 */
  char quote;  /* inside a short string continued by a backslash at the end of a line */
  int unsure;  /* the scanner lost track (an unfinished string, \z): compile every line */
} chunk_scan;

/* s at '[': the length of a long bracket [==[ (and its '=' count), or 0 */
static int long_open(const char *s, int *eq) {
  const char *p = s + 1;
  while (*p == '=')
    p++;
  if (*p != '[') return 0;
  *eq = (int)(p - s - 1);
  return (int)(p - s) + 1;
}

/* just past the closing ]==] with `eq` '=' signs, or NULL when the line has none */
static const char *long_close(const char *s, int eq) {
  for (; *s; s++) {
    if (*s != ']') continue;
    const char *p = s + 1;
    while (*p == '=')
      p++;
    if (*p == ']' && (int)(p - s - 1) == eq) return p + 1;
  }
  return NULL;
}

static int word_delta(const char *w, size_t n) {
  static const char *const open[] = {"function", "do", "if", "repeat"};
  for (size_t k = 0; k < sizeof open / sizeof open[0]; k++)
    if (strlen(open[k]) == n && memcmp(w, open[k], n) == 0) return 1;
  if ((n == 3 && memcmp(w, "end", 3) == 0) || (n == 5 && memcmp(w, "until", 5) == 0)) return -1;
  return 0;
}

static int is_word_char(char c) {
  return c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

static void scan_line(chunk_scan *c, const char *s) {
  while (!c->unsure && *s) {
    if (c->long_eq >= 0) {
      const char *e = long_close(s, c->long_eq);
      if (!e) return;
      c->long_eq = -1, s = e;
    } else if (c->quote) {
      while (*s && *s != c->quote) {
        if (*s == '\\') {
          if (s[1] == '\0') return; /* the string goes on at the next line */
          if (s[1] == 'z') c->unsure = 1;
          s++;
        }
        s++;
      }
      if (!*s)
        c->unsure = 1; /* unfinished string: a syntax error the compiler reports */
      else
        c->quote = 0, s++;
    } else if (s[0] == '-' && s[1] == '-') {
      int eq, k = s[2] == '[' ? long_open(s + 2, &eq) : 0;
      if (!k) return; /* a comment to the end of the line */
      c->long_eq = eq, s += 2 + k;
    } else if (*s == '[') {
      int eq, k = long_open(s, &eq);
      if (k)
        c->long_eq = eq, s += k;
      else
        c->depth++, s++;
    } else if (*s == '"' || *s == '\'') {
      c->quote = *s++;
    } else if (*s == '(' || *s == '{') {
      c->depth++, s++;
    } else if (*s == ')' || *s == ']' || *s == '}') {
      c->depth--, s++;
    } else if (is_word_char(*s)) {
      const char *w = s;
      while (is_word_char(*s) || (*w >= '0' && *w <= '9' && *s == '.'))
        s++;
      if (!(*w >= '0' && *w <= '9')) c->depth += word_delta(w, (size_t)(s - w));
    } else {
      s++;
    }
  }
}

/* True when the chunk certainly cannot compile yet (an open bracket, block or string). */
static int surely_incomplete(const chunk_scan *c) {
  return !c->unsure && (c->depth > 0 || c->long_eq >= 0 || c->quote);
}

/* Appends the line on top of L's stack (popped) to in->chunk, after a '\n' unless first. */
static void chunk_append(repl_input *in, int first) {
  lua_State *L = in->L;
  size_t n;
  const char *line = lua_tolstring(L, -1, &n);
  size_t need = in->chunklen + n + 2;
  if (first) in->chunklen = 0, need = n + 1;
  if (need > in->chunkcap) {
    size_t cap = in->chunkcap ? in->chunkcap : 256;
    while (cap < need)
      cap *= 2;
    char *p = realloc(in->chunk, cap);
    if (p == NULL) luaL_error(L, "not enough memory for the input");
    in->chunk = p, in->chunkcap = cap;
  }
  if (!first) in->chunk[in->chunklen++] = '\n';
  memcpy(in->chunk + in->chunklen, line, n);
  in->chunklen += n;
  in->chunk[in->chunklen] = '\0';
  lua_pop(L, 1);
}

/* Reads and compiles one chunk. Returns READ_EOF, READ_INTERRUPTED, or READ_OK with either
 * the compiled function or an error message (status in *status) on the stack. Lines are
 * joined in a C buffer; while the scanner says the chunk surely cannot compile, it is
 * compiled only for its first lines and then each time it doubles, so that a syntax error
 * inside a long block still shows within a factor of two, and a paste costs linear time. */
static int read_chunk(repl_input *in, int *status, int *print) {
  lua_State *L = in->L;
  int r = input_read(in, PROMPT1);
  if (r != READ_OK) return r;
  const char *first = lua_tostring(L, -1);
  if (first[0] == '=') { /* Lua 5.2 style "=expr" */
    lua_pushfstring(L, "%s", first + 1);
    lua_remove(L, -2);
  }
  chunk_append(in, 1);
  chunk_scan scan = {0, -1, 0, 0};
  scan_line(&scan, in->chunk);
  size_t tried = 0;
  for (int lines = 1;; lines++) {
    if (!surely_incomplete(&scan) || lines <= 64 || in->chunklen >= 2 * tried) {
      tried = in->chunklen;
      lua_pushlstring(L, in->chunk, in->chunklen); /* the source, for history */
      lua_pushvalue(L, -1);
      int is_expr;
      *status = compile(L, &is_expr);
      if (!incomplete(L, *status)) {
        *print = is_expr && !ends_with_semicolon(in->chunk);
        input_remember(in, in->chunk);
        lua_remove(L, -2); /* the source */
        return READ_OK;
      }
      lua_pop(L, 2); /* the "<eof>" message and the source */
    }
    r = input_read(in, PROMPT2);
    if (r != READ_OK) return r;
    size_t from = in->chunklen + 1;
    chunk_append(in, 0);
    scan_line(&scan, in->chunk + from);
  }
}

/* ---- the loop ----------------------------------------------------------------------------- */

static void print_results(lua_State *L, int base) {
  int n = lua_gettop(L) - base;
  if (n == 0) return;
  lua_getfield(L, LUA_REGISTRYINDEX, FORMATTER_KEY);
  lua_insert(L, base + 1);
  int status = gb_cli_docall(L, n, 1);
  if (status == LUA_OK) {
    size_t len;
    const char *s = lua_tolstring(L, -1, &len);
    if (s) {
      fwrite(s, 1, len, stdout);
      fputc('\n', stdout);
    }
    lua_pop(L, 1);
  } else {
    gb_cli_report(L, status, NULL);
  }
  fflush(stdout);
}

static void install_formatter(lua_State *L) {
  if (luaL_loadbuffer(L, formatter_src, sizeof formatter_src - 1, "=repl_format") == LUA_OK &&
      lua_pcall(L, 0, 1, 0) == LUA_OK) {
    lua_setfield(L, LUA_REGISTRYINDEX, FORMATTER_KEY);
  } else {
    lua_pop(L, 1);
    lua_getglobal(L, "tostring"); /* fallback: plain tostring */
    lua_setfield(L, LUA_REGISTRYINDEX, FORMATTER_KEY);
  }
}

void gb_cli_repl(lua_State *L, const char *banner) {
  repl_input in;
  gb_cli_prompt_signals(1); /* between commands, Ctrl-C only sets a flag */
  input_open(&in, L);
  install_formatter(L);
  if (banner && isatty(STDIN_FILENO)) {
    printf("%s\n", banner);
    fflush(stdout);
  }
  int base = lua_gettop(L);
  for (;;) {
    int status, print = 0;
    int r = read_chunk(&in, &status, &print);
    if (r == READ_EOF) break;
    if (r == READ_INTERRUPTED) continue;
    if (status == LUA_OK) status = gb_cli_docall(L, 0, LUA_MULTRET);
    if (status == LUA_OK) {
      if (print) print_results(L, base);
    } else {
      gb_cli_report(L, status, NULL);
    }
    lua_settop(L, base);
  }
  if (in.el) fputc('\n', stdout);
  fflush(stdout);
  input_close(&in);
  gb_cli_prompt_signals(0);
}
