/* test_embed_sandbox.c — sandboxed runtimes (gpubp_options.sandbox): the folder rules for io,
 * os, require, dofile/loadfile and gb.save/gb.load/read_idx (symlinks and `..` resolved),
 * checkpoints that never carry code, and a fuzz-style table of hostile scripts (escapes
 * through load, string.dump, package.loadlib, require of a C path, collectgarbage tricks,
 * string metatables, os/io/debug) that must each fail cleanly with the message shown, after
 * which the runtime still trains. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "gpubp.h"

static char base[64], rdir[96], wdir[96], odir[96];

static void write_file(const char *path, const char *text) {
  FILE *f = fopen(path, "w");
  if (!f) {
    perror(path);
    exit(2);
  }
  fputs(text, f);
  fclose(f);
}

static gpubp_runtime *open_sandbox(void) {
  const char *reads[] = {rdir, NULL}, *writes[] = {wdir, NULL};
  gpubp_options opt;
  gpubp_options_init(&opt);
  opt.device = "cpu";
  opt.sandbox = 1;
  opt.read_dirs = reads;
  opt.write_dirs = writes;
  gpubp_runtime *rt = NULL;
  int st = gpubp_open(&opt, &rt);
  if (st != GPUBP_OK) {
    fprintf(stderr, "open sandbox: %s\n", gpubp_errmsg(rt));
    exit(1);
  }
  return rt;
}

/* Runs `script` (which may use the globals R, W and O: the three folders) and expects
 * `status` with `want` in the message (NULL: success). */
static void expect(gpubp_runtime *rt, const char *script, int status, const char *want) {
  char code[4096];
  snprintf(code, sizeof code, "local R, W, O = '%s', '%s', '%s'\n%s", rdir, wdir, odir, script);
  int st = gpubp_dostring(rt, code, "=hostile");
  if (st != status || (want && strstr(gpubp_errmsg(rt), want) == NULL)) {
    fprintf(stderr, "script:\n%s\nreturned %s, wanted %s with \"%s\"; message: %s\n", script,
            gpubp_status_string(st), gpubp_status_string(status), want ? want : "",
            gpubp_errmsg(rt));
    failures++;
  }
  /* the runtime goes on: a tensor op still gives the right number */
  double v = 0;
  if (gpubp_dostring(rt, "probe = (gb.ones(3) * 2):sum():item()", NULL) != GPUBP_OK ||
      gpubp_get_number(rt, "probe", &v) != GPUBP_OK || v != 6) {
    fprintf(stderr, "runtime unusable after:\n%s\n%s\n", script, gpubp_errmsg(rt));
    failures++;
  }
}

#define DENY(script, msg) expect(rt, script, GPUBP_ERRRUN, msg)
#define ALLOW(script) expect(rt, script, GPUBP_OK, NULL)

static void test_folders(gpubp_runtime *rt) {
  /* reading: R and W yes, O no; writing: W only */
  ALLOW("assert(io.open(R .. '/data.txt')):close()");
  ALLOW("local f = assert(io.open(W .. '/out.txt', 'w')) f:write('x') f:close()");
  ALLOW("assert(io.open(W .. '/out.txt')):close()");
  DENY("io.open(O .. '/secret.txt')", "hostile:2: io.open: '");
  DENY("io.open(O .. '/secret.txt')", "secret.txt' is outside the folders this script may read");
  DENY("io.open(R .. '/new.txt', 'w')", "new.txt' is outside the folders this script may write");
  DENY("io.open(R .. '/data.txt', 'r+')", "is outside the folders this script may write");
  DENY("io.open(W .. '/../outside/secret.txt')", "is outside the folders this script may read");
  DENY("io.open(W .. '/link')", "link' is outside the folders this script may read"); /* -> O */
  DENY("io.open(W .. '/dangling', 'w')", "dangling' is outside the folders this script may write");
  DENY("io.open('/etc/passwd')",
       "io.open: '/etc/passwd' is outside the folders this script may read");
  DENY("for l in io.lines(O .. '/secret.txt') do end", "io.lines: '");
  DENY("io.lines()", "io.lines: a file name is required here");
  DENY("io.input(O .. '/secret.txt')", "io.input: '");
  DENY("io.output(R .. '/x')", "io.output: '");
  DENY("os.remove(R .. '/data.txt')", "os.remove: '");
  DENY("os.rename(W .. '/out.txt', O .. '/moved')", "os.rename: '");
  DENY("dofile(O .. '/mod.lua')", "dofile: '");
  DENY("loadfile(O .. '/mod.lua')", "loadfile: '");
  ALLOW("assert(dofile(R .. '/mod.lua') == 42)");
  /* gb.save / gb.load / read_idx obey the same rules */
  ALLOW("gb.save(W .. '/ck.safetensors', {w = gb.ones(2)})");
  ALLOW("assert(gb.load(W .. '/ck.safetensors').w:sum():item() == 2)");
  DENY("gb.save(R .. '/ck.safetensors', {w = gb.ones(2)})", "hostile:2: save: '");
  DENY("gb.save(O .. '/ck.safetensors', {w = gb.ones(2)})",
       "ck.safetensors' is outside the folders this script may write");
  DENY("gb.load(O .. '/ck.safetensors')", "load: '");
  DENY("gb.io.read_idx('/etc/passwd')", "read_idx: '/etc/passwd' is outside the folders");
  DENY("gb.data.mnist(O, 'train')", "is outside the folders this script may read");
  /* require: Lua modules from the read folders, never C modules */
  ALLOW("package.path = R .. '/?.lua' assert(require('mod') == 42)");
  DENY("package.path = O .. '/?.lua' require('omod')",
       "omod.lua' (outside the folders this script may read)");
  ALLOW("assert(require('gpubp') == gb)");
}

/* Checkpoints carry tensors and strings only: a function value is refused, and metadata that
 * looks like Lua code comes back as a string, never run. */
static void test_checkpoints(gpubp_runtime *rt) {
  DENY("gb.save(W .. '/f.safetensors', {w = gb.ones(1), f = function() end})",
       "value for 'f' is a function, expected a tensor");
  ALLOW("ran = false\n"
        "gb.save(W .. '/m.safetensors', {w = gb.ones(1)}, {code = 'ran = true'})\n"
        "local t, meta = gb.load(W .. '/m.safetensors')\n"
        "assert(type(meta.code) == 'string' and meta.code == 'ran = true' and ran == false)");
}

static void test_hostile(gpubp_runtime *rt) {
  /* bytecode and code loading */
  DENY("load(string.dump(function() end))", "string.dump: not available in the sandbox");
  DENY("assert(load('\\27Lua\\84\\0garbage'))", "attempt to load a binary chunk (mode is 't')");
  DENY("assert(load(function() return '\\27Lua' end))", "attempt to load a binary chunk");
  ALLOW("assert(load('return 1', 'x', 'b')() == 1)"); /* the mode is always 't' */
  ALLOW("assert(load('return 1 + 1')() == 2)");
  ALLOW("local env = {} load('x = 5', 'c', 't', env)() assert(env.x == 5 and x == nil)");
  DENY("local f = io.open(W .. '/bc.luac', 'wb') f:write('\\27LuaT\\0') f:close() "
       "assert(loadfile(W .. '/bc.luac'))",
       "attempt to load a binary chunk");
  /* C modules */
  DENY("package.loadlib('/lib/x86_64-linux-gnu/libc.so.6', 'system')",
       "package.loadlib: not available in the sandbox");
  DENY("package.cpath = '/usr/lib/x86_64-linux-gnu/lua/5.4/?.so' require('lpeg')",
       "module 'lpeg' not found");
  DENY("require('os.execute')", "module 'os.execute' not found");
  DENY("table.insert(package.searchers, 1, function() return package.loadlib end) "
       "local ok, e = pcall(require, 'zzz') table.remove(package.searchers, 1) error(e, 0)",
       "package.loadlib: not available in the sandbox");
  /* processes, environment, exit, debug */
  DENY("os.execute('touch /tmp/gpubp_pwned')", "os.execute: not available in the sandbox");
  DENY("io.popen('id')", "io.popen: not available in the sandbox");
  DENY("os.exit(3)", "os.exit: not available in the sandbox");
  DENY("os.getenv('HOME')", "os.getenv: not available in the sandbox");
  DENY("os.tmpname()", "os.tmpname: not available in the sandbox");
  DENY("io.tmpfile()", "io.tmpfile: not available in the sandbox");
  DENY("os.setlocale('C')", "os.setlocale: not available in the sandbox");
  DENY("debug.getregistry()", "attempt to index a nil value (global 'debug')");
  DENY("require('debug').sethook()", "module 'debug' not found");
  DENY("package.loaded.debug.getinfo(1)", "attempt to index a nil value");
  /* collectgarbage tricks */
  DENY("collectgarbage('stop')", "collectgarbage: option 'stop' is not available in the sandbox");
  DENY("collectgarbage('generational', 0, 0)", "option 'generational' is not available");
  DENY("collectgarbage('incremental', 1, 1)", "option 'incremental' is not available");
  ALLOW("collectgarbage() collectgarbage('step', 1e9) assert(collectgarbage('count') > 0)");
  ALLOW("for i = 1, 100 do setmetatable({}, {__gc = function() collectgarbage() "
        "error('in gc') end}) end collectgarbage()");
  ALLOW("local keep = {} for i = 1, 50 do setmetatable({}, {__gc = function(o) keep[#keep+1] "
        "= gb.ones(2) end}) end collectgarbage() collectgarbage() assert(#keep == 50)");
  /* string metatables: locked; changing the script's `string` does not reach the methods */
  DENY("getmetatable('').__index = function() return os.execute end",
       "attempt to index a boolean value");
  DENY("setmetatable('', {})", "bad argument #1 to 'setmetatable' (table expected, got string)");
  ALLOW("string.format = nil string.rep = error assert(('%d'):format(3) == '3') "
        "assert(('ab'):rep(2) == 'abab')");
  ALLOW("string.dump = nil assert(tostring(gb.ones(2)):find('float32'))");
  /* rawset on library tables only hurts the script itself */
  DENY("rawset(io, 'open', nil) io.open('x')", "attempt to call a nil value (field 'open')");
}

int main(void) {
  snprintf(base, sizeof base, "/tmp/gb_sandbox.XXXXXX");
  if (!mkdtemp(base)) return 2;
  snprintf(rdir, sizeof rdir, "%s/read", base);
  snprintf(wdir, sizeof wdir, "%s/write", base);
  snprintf(odir, sizeof odir, "%s/outside", base);
  char path[256], cmd[512];
  snprintf(cmd, sizeof cmd, "mkdir -p %s %s %s", rdir, wdir, odir);
  if (system(cmd) != 0) return 2;
  snprintf(path, sizeof path, "%s/data.txt", rdir);
  write_file(path, "hello\n");
  snprintf(path, sizeof path, "%s/mod.lua", rdir);
  write_file(path, "return 42\n");
  snprintf(path, sizeof path, "%s/omod.lua", odir);
  write_file(path, "return 'outside'\n");
  snprintf(path, sizeof path, "%s/secret.txt", odir);
  write_file(path, "secret\n");
  char target[256];
  snprintf(target, sizeof target, "%s/secret.txt", odir);
  snprintf(path, sizeof path, "%s/link", wdir);
  if (symlink(target, path) != 0) return 2;
  snprintf(target, sizeof target, "%s/not_yet", odir);
  snprintf(path, sizeof path, "%s/dangling", wdir);
  if (symlink(target, path) != 0) return 2;

  gpubp_runtime *rt = open_sandbox();
  test_folders(rt);
  test_checkpoints(rt);
  test_hostile(rt);
  gpubp_close(rt);
  /* the host may not name a folder that does not exist */
  const char *missing[] = {"/nonexistent/gpubp", NULL};
  gpubp_options opt;
  gpubp_options_init(&opt);
  opt.sandbox = 1;
  opt.read_dirs = missing;
  rt = NULL;
  CHECK(gpubp_open(&opt, &rt) == GPUBP_ERRARG);
  CHECK(strstr(gpubp_errmsg(rt), "sandbox: folder '/nonexistent/gpubp' No such file") != NULL);
  gpubp_close(rt);
  CHECK(access("/tmp/gpubp_pwned", F_OK) != 0);
  snprintf(cmd, sizeof cmd, "rm -rf %s", base);
  if (system(cmd) != 0) failures++;
  if (failures) fprintf(stderr, "test_embed_sandbox: %d failure(s)\n", failures);
  return failures ? 1 : 0;
}
