#!/usr/bin/env python3
"""run.py — gpubp vs PyTorch, side by side, in one invocation (issue 7).

Runs each benchmark for gpubp (build/gpubp scripts/bench/gb_*.lua) and for PyTorch
(scripts/bench/torch_*.py under a Python that has torch) alternately, takes the median of the
repeats, and writes a markdown table with the machine's details between the
<!-- bench:begin --> and <!-- bench:end --> markers of docs/benchmarks.md (the rest of that
file is kept). Benchmarks: (a) seed MLP epoch, (b) per-op overhead, (c) start-up to first op,
(d) peak RSS of MNIST training, (e) sgemm GFLOP/s, (f) larger MLP with Adam, (r) the seed
recipe on full-size Fashion-MNIST through the shuffling DataLoader, (g) the CNN recipe
(scripts/examples/cnn_fashion.lua vs scripts/bench/cnn_fashion_torch.py): samples/s, peak RSS,
(t) the character-level Transformer recipe, (l) the character-level LSTM recipe.

  scripts/bench/run.py [--quick] [--device cpu|cuda] [--only a,b,...] [--out FILE]

gpubp always runs with no settings (OPENBLAS_*, OMP_*, BLIS_* and GOTO_* are removed from its
environment). PyTorch runs tuned (OPENBLAS_CORETYPE forced to the CPU's best kernels,
OMP_WAIT_POLICY=PASSIVE, torch.set_num_threads(cores)) and, for the epoch benchmark, also
as installed. Nothing here asserts a time. The exit status is 1 when a gpubp benchmark failed
to run (a breakage check for CI's --quick), 0 otherwise, PyTorch missing or not.
Only the Python standard library is used; run it with any python3 >= 3.8.
"""
import argparse
import datetime
import os
import platform
import re
import shlex
import shutil
import statistics
import subprocess
import sys
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BENCH = os.path.join(ROOT, "scripts", "bench")
TUNING_VARS = ("OPENBLAS_", "GOTO_", "OMP_", "BLIS_", "MKL_", "KMP_", "GPUBP_")


# ---- running things ------------------------------------------------------------------------

def clean_env(extra=None):
    """The caller's environment minus every BLAS/OpenMP tuning variable, plus `extra`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(TUNING_VARS)}
    env.update(extra or {})
    return env


class Failed(Exception):
    pass


def run(cmd, env, timeout):
    """Runs cmd (a list), returns (stdout, seconds). Raises Failed with the output's tail."""
    t0 = time.perf_counter()
    try:
        p = subprocess.run(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise Failed(f"timed out after {timeout}s: {shlex.join(cmd)}")
    except OSError as e:
        raise Failed(f"cannot run {cmd[0]}: {e}")
    dt = time.perf_counter() - t0
    if p.returncode != 0:
        out = p.stdout.split("\tCommand being timed:")[0]  # drop /usr/bin/time -v's report
        tail = " ".join(out.strip().splitlines()[-3:])[-300:]
        raise Failed(f"exit {p.returncode}: {tail}")
    return p.stdout, dt


def parse_bench(out):
    """{"key": float} from "BENCH key value" lines."""
    vals = {}
    for line in out.splitlines():
        m = re.match(r"^BENCH (\S+) (\S+)\s*$", line)
        if m:
            try:
                vals[m.group(1)] = float(m.group(2))
            except ValueError:
                pass
    return vals


class Side:
    """One contender of a benchmark: a label, how to run it, and its collected values."""

    def __init__(self, label, make_cmd, env, parse=parse_bench, timeout=300):
        self.label, self.make_cmd, self.env = label, make_cmd, env
        self.parse, self.timeout = parse, timeout
        self.values, self.error = {}, None

    def once(self):
        if self.error:
            return
        try:
            out, dt = run(self.make_cmd(), self.env, self.timeout)
            vals = self.parse(out) if self.parse is not parse_wall else {"wall_s": dt}
            if not vals:
                raise Failed("printed no BENCH lines: " + out.strip()[-200:])
            for k, v in vals.items():
                self.values.setdefault(k, []).append(v)
        except Failed as e:
            self.error = str(e)

    def median(self, key):
        v = self.values.get(key)
        return statistics.median(v) if v else None


def parse_wall(out):  # marker: Side.once records the wall time instead of parsing
    return {}


def alternate(sides, repeats, log):
    """Runs the sides in turn `repeats` times, rotating who goes first."""
    for r in range(repeats):
        order = sides[r % len(sides):] + sides[:r % len(sides)]
        for s in order:
            s.once()
        log(".")
    for s in sides:
        if s.error:
            log(f"\n  {s.label}: {s.error}")


# ---- machine -------------------------------------------------------------------------------

def cpu_info():
    model, flags = platform.processor() or "unknown", set()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name") and model in ("unknown", "", "x86_64"):
                    model = line.split(":", 1)[1].strip()
                elif line.startswith("flags") and not flags:
                    flags = set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return model, flags


def best_openblas_core(flags):
    if {"avx512f", "avx512bw", "avx512dq", "avx512vl"} <= flags:
        return "SkylakeX"
    if {"avx2", "fma"} <= flags:
        return "Haswell"
    return None


def mem_total():
    try:
        with open("/proc/meminfo") as f:
            kb = int(f.readline().split()[1])
        return f"{kb / 1048576:.1f} GiB"
    except (OSError, ValueError, IndexError):
        return "unknown"


def os_name():
    try:
        with open("/etc/os-release") as f:
            for line in f:
                if line.startswith("PRETTY_NAME="):
                    return line.split("=", 1)[1].strip().strip('"')
    except OSError:
        pass
    return platform.system()


def loadavg():
    try:
        return " ".join(open("/proc/loadavg").read().split()[:3])
    except OSError:
        return "unknown"


def busy_cores(seconds=0.5):
    """CPU time used by all processes over `seconds`, in cores (0 = idle machine)."""
    def snap():
        with open("/proc/stat") as f:
            v = [int(x) for x in f.readline().split()[1:]]
        idle = v[3] + (v[4] if len(v) > 4 else 0)
        return sum(v[:8]), idle
    try:
        t0, i0 = snap()
        time.sleep(seconds)
        t1, i1 = snap()
    except (OSError, ValueError, IndexError):
        return None
    total = t1 - t0
    return (total - (i1 - i0)) / total * (os.cpu_count() or 1) if total > 0 else None


def find_torch_python(explicit):
    cands = [explicit] if explicit else ["/usr/bin/python3", shutil.which("python3") or ""]
    for py in cands:
        if py and os.path.exists(py):
            try:
                out, _ = run([py, "-c", "import torch; print(torch.__version__)"],
                             clean_env(), 60)
                return py, out.strip().splitlines()[-1]
            except Failed:
                continue
    return None, None


def torch_core(py, env):
    """OpenBLAS core torch ends up with under env (OPENBLAS_VERBOSE=2 prints it)."""
    try:
        out, _ = run([py, "-c", "import torch; torch.ones(64,64) @ torch.ones(64,64)"],
                     dict(env, OPENBLAS_VERBOSE="2"), 60)
        m = re.search(r"Core: (\S+)", out)
        return m.group(1) if m else "n/a"
    except Failed:
        return "n/a"


# ---- formatting ----------------------------------------------------------------------------

def fmt(v, digits=1):
    if v is None:
        return "—"
    if abs(v) >= 100:
        return f"{v:.0f}"
    return f"{v:.{digits}f}" if abs(v) >= 1 else f"{v:.{max(digits, 2)}f}"


def cell(side, key, digits=1):
    if side is None:
        return "—"
    if side.error:
        return "failed"
    return fmt(side.median(key), digits)


def ratio(a, b):
    if a is None or b is None or b == 0:
        return "—"
    return f"{a / b:.2f}"


# ---- main ----------------------------------------------------------------------------------

def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="about a minute: fewer repeats")
    ap.add_argument("--device", default="cpu", help="cpu | cuda | cuda:N")
    ap.add_argument("--gpubp", default=os.path.join(ROOT, "build", "gpubp"))
    ap.add_argument("--cpu-only-gpubp", default=os.path.join(ROOT, "build-cpu", "gpubp"),
                    help="a -DGPUBP_CUDA=OFF build, reported next to --gpubp in (c)")
    ap.add_argument("--torch-python", default=None, help="python with torch (default /usr/bin/python3)")
    ap.add_argument("--data", default=None, help="MNIST IDX dir for (d)")
    ap.add_argument("--only", default="a,b,c,d,e,f,r,g,t,l", help="subset, e.g. a,b")
    ap.add_argument("--fashion", default="/usr/share/datasets/fashion-mnist",
                    help="Fashion-MNIST IDX dir for (r) and (g) (Debian: dataset-fashion-mnist)")
    ap.add_argument("--repeats", type=int, default=None)
    ap.add_argument("--out", default=os.path.join(ROOT, "docs", "benchmarks.md"))
    ap.add_argument("--no-write", action="store_true", help="print the table only")
    a = ap.parse_args()
    only = set(a.only.split(","))
    cuda = a.device.startswith("cuda")
    R = a.repeats or (2 if a.quick else 5)
    log = lambda s: (sys.stderr.write(s), sys.stderr.flush())

    model, flags = cpu_info()
    cores = os.cpu_count() or 1
    py, torch_version = find_torch_python(a.torch_python)
    core = best_openblas_core(flags)
    torch_best_env = clean_env({"OMP_WAIT_POLICY": "PASSIVE", **({"OPENBLAS_CORETYPE": core}
                                                                 if core else {})})
    torch_inst_env = clean_env()
    gb_env = clean_env()
    gb = a.gpubp
    have_gb = os.access(gb, os.X_OK)
    load_before = loadavg()
    started = datetime.datetime.now(datetime.timezone.utc)

    def gb_cmd(script, *args):
        return lambda: [gb, "--device", a.device, os.path.join(BENCH, script), a.device,
                        *map(str, args)]

    def torch_cmd(bench, *args, best=True):
        extra = ["--threads", str(cores)] if best else []
        return lambda: [py, os.path.join(BENCH, "torch_bench.py"), bench, "--device",
                        a.device, *extra, *map(str, args)]

    gb_sides = []

    def gb_side(label, cmd, **kw):
        s = Side(label, cmd, gb_env, **kw)
        gb_sides.append(s)
        if not have_gb:
            s.error = f"{gb} not built"
        return s

    def torch_side(label, cmd, env, **kw):
        s = Side(label, cmd, env, **kw)
        if not py:
            s.error = "no python with torch"
        return s

    sections = []
    other_load = [busy_cores(1.0)]  # sampled while the harness itself runs nothing

    def sample_load():
        other_load.append(busy_cores())

    # (a) seed MLP epoch -------------------------------------------------------------------
    if "a" in only:
        log("(a) seed MLP epoch ")
        ep = 3 if a.quick else 5
        g = gb_side("gpubp", gb_cmd("gb_mlp_epoch.lua", ep))
        tb = torch_side("PyTorch tuned", torch_cmd("epoch", "--epochs", ep), torch_best_env)
        ti = torch_side("PyTorch as installed", torch_cmd("epoch", "--epochs", ep, best=False),
                        torch_inst_env)
        alternate([g, tb, ti], R, log)
        log("\n")
        gm, bm, im = g.median("epoch_ms"), tb.median("epoch_ms"), ti.median("epoch_ms")
        peer = min([v for v in (bm, im) if v is not None] or [None]) if (bm or im) else None
        sections.append(("(a) Seed MLP training, one 8000-sample epoch",
            "784-128-10 ReLU, batch 100, SGD lr 0.01, cross-entropy, 80 steps on synthetic "
            "data; median ms per epoch (lower is better). Target (issue 17; issue 7 asked "
            "for 0.5×): gpubp ≤ 0.4× PyTorch at its best, i.e. the faster of the tuned and "
            "the as-installed runs.",
            ["", "gpubp", "PyTorch tuned", "PyTorch as installed", "gpubp ÷ tuned",
             "gpubp ÷ as installed", "target ≤ 0.4× best"],
            [["ms / epoch", cell(g, "epoch_ms"), cell(tb, "epoch_ms"), cell(ti, "epoch_ms"),
              ratio(gm, bm), ratio(gm, im), met(gm is not None and peer is not None and
                                               gm <= 0.4 * peer, gm, peer)],
             ["loss after last epoch", cell(g, "loss_last_epoch", 3),
              cell(tb, "loss_last_epoch", 3), cell(ti, "loss_last_epoch", 3), "", "", ""]],
            [g, tb, ti]))

    sample_load()
    # (b) per-op overhead -------------------------------------------------------------------
    if "b" in only:
        log("(b) per-op overhead ")
        it = 20000 if a.quick else 200000
        g = gb_side("gpubp", gb_cmd("gb_op_overhead.lua", it))
        t = torch_side("PyTorch tuned", torch_cmd("overhead", "--iters", it), torch_best_env)
        alternate([g, t], R, log)
        log("\n")
        rows = []
        for key, label, tgt in [("add_nograd_us", "1-element add, no autograd (µs)", None),
                                ("add_grad_us", "1-element add, with autograd (µs)", None),
                                ("chain_us", "chain fwd+bwd: 10×(relu(y·s)+s), sum (µs)", None),
                                ("chain_per_fwd_op_us", "  … per op, forward + backward (µs)",
                                 "grad")]:
            gv, tv = g.median(key), t.median(key)
            verdict = ""
            if tgt == "grad":
                verdict = met(gv is not None and tv is not None and gv <= 1.0 and
                              gv <= 0.2 * tv, gv, tv)
            rows.append([label, cell(g, key, 2), cell(t, key, 2), ratio(gv, tv), verdict])
        sections.append(("(b) Per-op overhead on tiny tensors",
            "Host time per op, median (lower is better). Target: with autograd ≤ 1 µs and "
            "≤ 0.2× PyTorch, read on the chain's time per op (its forward op plus its share of "
            "the backward), the measure behind the issue's ≈5.5 µs for PyTorch; the bare `add` "
            "with autograd only records a tape node.", ["", "gpubp", "PyTorch tuned", "gpubp ÷ PyTorch", "target ≤ 1 µs and ≤ 0.2×"],
            rows, [g, t]))

    sample_load()
    # (c) start-up ----------------------------------------------------------------------------
    if "c" in only:
        log("(c) start-up ")
        dev_arg = [] if not cuda else ["--device", a.device]
        # this build, and the CPU-only build beside it when there is one: with CUDA as a plugin
        # that only a cuda device loads, the two should start alike
        builds = [("gpubp", gb)]
        if a.cpu_only_gpubp and os.access(a.cpu_only_gpubp, os.X_OK) and \
                os.path.realpath(a.cpu_only_gpubp) != os.path.realpath(gb):
            builds.append(("gpubp CPU-only build", a.cpu_only_gpubp))
        have_timev = os.path.exists("/usr/bin/time")
        gs, rs = [], []
        for label, exe in builds:
            gs.append(gb_side(label, lambda exe=exe: [exe, *dev_arg, "-e", "gb.ones(1)"],
                              parse=parse_wall))
            r = gb_side(label + " RSS", lambda exe=exe: ["/usr/bin/time", "-v", exe, *dev_arg,
                                                       "-e", "gb.ones(1)"], parse=timev_parse)
            if not have_timev:
                r.error = "/usr/bin/time missing (apt-get install time)"
            rs.append(r)
        code = ("import torch; torch.ones(1)" if not cuda else
                f"import torch; torch.ones(1, device='{a.device}'); torch.cuda.synchronize()")
        t = torch_side("PyTorch", lambda: [py, "-c", code], torch_inst_env, parse=parse_wall)
        for s_ in gs + [t]:
            s_.once()  # warm the page cache; not counted
            s_.values.clear()
        alternate(gs + [t], 3 if a.quick else 10, log)
        alternate(rs, 3, log)
        log("\n")
        tv = t.median("wall_s")
        tv_ms = tv * 1e3 if tv else None
        rows = []
        for (label, exe), g, r in zip(builds, gs, rs):
            gv = g.median("wall_s")
            gv_ms = gv * 1e3 if gv else None
            try:
                libs = subprocess.run(["ldd", exe], stdout=subprocess.PIPE, text=True).stdout
                cuda_libs = sorted({m for m in re.findall(r"(libcu\w*\.so[.\d]*)", libs)})
            except OSError:
                cuda_libs = ["?"]
            rows.append([f"{label} ({os.path.relpath(exe, ROOT)})", cell_v(g, gv_ms),
                         cell(r, "maxrss_mib", 1), ", ".join(cuda_libs) or "none",
                         ratio(gv_ms, tv_ms), met(gv_ms is not None and gv_ms <= 20, gv_ms, 20)])
        rows.append(["PyTorch", cell_v(t, tv_ms), "", "", "", ""])
        sections.append(("(c) Process start-up to the first op",
            "`gpubp -e 'gb.ones(1)'` vs `python3 -c 'import torch; torch.ones(1)'`, wall "
            "clock of the whole process, median (warm page cache); peak RSS from "
            "`/usr/bin/time -v`; the CUDA libraries `ldd` lists for the binary. Target: ≤ 20 ms "
            "(issue 11: ≤ 10 ms and ≤ 10 MB in the default build, CUDA plugin included).",
            ["", "ms", "peak RSS (MiB)", "CUDA libraries linked", "÷ PyTorch", "target ≤ 20 ms"],
            rows, gs + rs + [t]))

    sample_load()
    # (d) peak RSS ------------------------------------------------------------------------------
    if "d" in only:
        log("(d) peak RSS ")
        data = a.data or find_mnist()
        timev = shutil.which("time") and os.path.exists("/usr/bin/time")
        parse_rss = lambda out: timev_parse(out)
        g = gb_side("gpubp", lambda: ["/usr/bin/time", "-v", gb, "--device", a.device,
                                      os.path.join(ROOT, "scripts", "train_mnist.lua"),
                                      "--epochs", "1", "--quiet", "--data", data],
                    parse=parse_rss)
        t = torch_side("PyTorch", lambda: ["/usr/bin/time", "-v", py,
                                           os.path.join(BENCH, "torch_train_mnist.py"),
                                           "--epochs", "1", "--data", data, "--device",
                                           a.device, "--threads", str(cores)],
                       torch_best_env, parse=parse_rss)
        for s in (g, t):
            if not data:
                s.error = s.error or "no MNIST data (use --data DIR)"
            if not timev:
                s.error = s.error or "/usr/bin/time missing (apt-get install time)"
        alternate([g, t], 1 if a.quick else 3, log)
        log("\n")
        gv, tv = g.median("maxrss_mib"), t.median("maxrss_mib")
        sections.append(("(d) Peak RSS of MNIST training (1 epoch)",
            f"`/usr/bin/time -v` maximum resident set size: gpubp runs `scripts/train_mnist.lua "
            f"--epochs 1`, PyTorch `scripts/bench/torch_train_mnist.py --epochs 1` (same model, "
            f"data and evaluation); data: `{os.path.relpath(data, ROOT) if data else 'none'}`. "
            f"Target: ≤ 50 MiB.",
            ["", "gpubp", "PyTorch", "gpubp ÷ PyTorch", "target ≤ 50 MiB"],
            [["peak RSS (MiB)", cell(g, "maxrss_mib"), cell(t, "maxrss_mib"), ratio(gv, tv),
              met(gv is not None and gv <= 50, gv, 50)],
             ["wall time (s)", cell(g, "wall_s", 2), cell(t, "wall_s", 2),
              ratio(g.median("wall_s"), t.median("wall_s")), ""]], [g, t]))

    sample_load()
    # (e) sgemm -----------------------------------------------------------------------------------
    if "e" in only:
        log("(e) sgemm ")
        sizes = [512, 1024, 2048, 4096]
        sz = ",".join(map(str, sizes))
        sides = []
        sgemm_bin = None if cuda else build_sgemm_bench(log)
        c = None  # the C program measures the CPU BLAS only
        if not cuda:
            c = Side("gb_blas (C)", lambda: [sgemm_bin, "--no-shapes", "--reps", "3"], gb_env)
            if not sgemm_bin:
                c.error = "sgemm_bench did not build"
        g = gb_side("gpubp matmul", gb_cmd("gb_sgemm.lua", sz))
        t = torch_side("PyTorch tuned", torch_cmd("sgemm", "--sizes", sz), torch_best_env)
        sides = [x for x in (c, g, t) if x]
        alternate(sides, 1 if a.quick else 3, log)
        log("\n")
        rows = []
        for n in sizes:
            k = f"sq{n}_gflops"
            cv = c.median(k) if c else None
            best = t.median(k)  # PyTorch's OpenBLAS at its best settings
            gv = max([v for v in (cv, g.median(k)) if v is not None] or [0]) or None
            verdict = ""
            if n >= 1024:
                verdict = met(gv is not None and best is not None and gv >= 0.8 * best, gv,
                              best)
            rows.append([f"{n}×{n}×{n}", cell(c, k), cell(g, k), cell(t, k),
                         ratio(g.median(k), t.median(k)), verdict])
        sections.append(("(e) sgemm GFLOP/s",
            "Square float32 products, best of 3 (higher is better). `gb_blas (C)` is "
            "scripts/bench/sgemm_bench.c calling gb_blas_sgemm directly; `gpubp matmul` goes "
            "through the Lua API. Target: gpubp (the better of its two columns) ≥ 80% of PyTorch's "
            "OpenBLAS at its best settings, at n ≥ 1024.",
            ["n", "gb_blas (C)", "gpubp matmul", "PyTorch tuned", "gpubp ÷ PyTorch",
             "target ≥ 0.8× best"], rows, sides))

    sample_load()
    # (f) larger MLP ------------------------------------------------------------------------------
    if "f" in only:
        log("(f) larger MLP ")
        steps = 5 if a.quick else 30
        g = gb_side("gpubp", gb_cmd("gb_big_mlp.lua", steps))
        t = torch_side("PyTorch tuned", torch_cmd("bigmlp", "--steps", steps), torch_best_env)
        alternate([g, t], 1 if a.quick else 3, log)
        log("\n")
        gv, tv = g.median("steps_per_s"), t.median("steps_per_s")
        sections.append(("(f) Larger MLP with Adam",
            "784-1024-1024-10 ReLU, batch 256, Adam lr 1e-3, cross-entropy; training steps "
            "per second, median (higher is better). Target (issue 17): gpubp ≥ 1.25× "
            "PyTorch tuned.",
            ["", "gpubp", "PyTorch tuned", "gpubp ÷ PyTorch", "target ≥ 1.25×"],
            [["steps / s", cell(g, "steps_per_s"), cell(t, "steps_per_s"), ratio(gv, tv),
              met(gv is not None and tv is not None and gv >= 1.25 * tv, gv, tv)]],
            [g, t]))

    sample_load()
    # (r) the seed recipe on full-size data (issue 17) --------------------------------------------
    if "r" in only:
        log("(r) real recipe ")
        data = a.fashion
        ep = 2 if a.quick else 5
        script = "gb_real_recipe.lua"
        g = gb_side("gpubp", lambda: [gb, os.path.join(BENCH, script), data, str(ep), "loader"])
        gs = gb_side("gpubp, DataLoader{prefetch=false}",
                     lambda: [gb, os.path.join(BENCH, script), data, str(ep), "loader", "sync"])
        gp = gb_side("gpubp pre-gathered", lambda: [gb, os.path.join(BENCH, script), data,
                                                    str(ep), "pregathered"])
        gg = gb_side("gpubp DataLoader alone", lambda: [gb, os.path.join(BENCH, script), data,
                                                        str(ep), "gather"])
        def torch_real(threads, loader="index"):
            return lambda: [py, os.path.join(BENCH, "torch_bench.py"), "real", "--threads",
                            str(threads), "--epochs", str(ep), "--data", data, "--loader",
                            loader]
        t1 = torch_side("PyTorch 1 thread", torch_real(1), torch_best_env)
        t2 = torch_side("PyTorch 2 threads", torch_real(2), torch_best_env)
        td = torch_side("PyTorch DataLoader, 1 thread", torch_real(1, "dataloader"),
                        torch_best_env)
        sides = [g, gs, gp, gg, t1, t2, td]
        if not os.path.exists(os.path.join(data, "train-images-idx3-ubyte.gz")) and \
                not os.path.exists(os.path.join(data, "train-images-idx3-ubyte")):
            for s_ in sides:
                s_.error = s_.error or f"no Fashion-MNIST in {data} (apt-get install dataset-fashion-mnist)"
        alternate(sides, 1 if a.quick else 3, log)
        log("\n")
        gm = g.median("epoch_ms")
        peers = [v for v in (t1.median("epoch_ms"), t2.median("epoch_ms")) if v]
        best = min(peers) if peers else None
        floor_step = g.median("floor_step_ms")
        steps = 600
        floor_ep = floor_step * steps if floor_step else None
        rows = []
        for s_ in sides:
            em = s_.median("epoch_ms")
            rows.append([s_.label, cell(s_, "epoch_ms"), cell(s_, "step_ms", 3),
                         cell(s_, "cpu_epoch_ms"), cell(s_, "main_cpu_epoch_ms"),
                         cell(s_, "test_acc", 3), ratio(em, best), ""])
        rows[0][-1] = met(gm is not None and best is not None and gm <= 0.5 * best, gm, best)
        rows.append([f"floor: 40.9 MFLOP/step at {fmt(g.median('sgemm_gflops'))} GFLOP/s "
                     "(gpubp's 1024³ matmul, same process)", fmt(floor_ep),
                     fmt(floor_step, 3) if floor_step else "—", "", "", "",
                     ratio(floor_ep, best), ""])
        rows.append(["gpubp ÷ floor", ratio(gm, floor_ep), "", "", "", "", "",
                     met(gm is not None and floor_ep is not None and gm <= 2 * floor_ep, gm,
                         floor_ep)])
        sections.append(("(r) The seed recipe on Fashion-MNIST 60k/10k (issue 17)",
            f"784-128-10 ReLU, SGD lr 0.01, batch 100, cross-entropy, batches shuffled every "
            f"epoch (gpubp: `gb.data.DataLoader{{shuffle=true}}`; PyTorch: `randperm` + "
            f"`x[idx]` per batch, its fastest, and `torch.utils.data.DataLoader` over a "
            f"`TensorDataset` for reference); {ep} timed epochs of 600 steps after one warm-up, "
            f"training only (loading and evaluation not timed); data: `{data}`. Median ms per "
            f"epoch and per step, process CPU time per epoch (all threads) and, for gpubp, the "
            f"main thread's (its schedstat: the critical path). `pre-gathered` "
            f"trains on the epoch's batches gathered beforehand; `DataLoader alone` only "
            f"iterates. Target: gpubp ≤ 0.5× PyTorch at its best (the faster of 1 and 2 threads, "
            f"`scripts/bench/torch_bench.py real`) and ≤ 2× the floor.",
            ["", "ms / epoch", "ms / step", "CPU ms / epoch", "main thread CPU ms / epoch",
             "test accuracy", "÷ PyTorch best", "target ≤ 0.5× best, ≤ 2× floor"], rows,
            sides))

    sample_load()
    # (g) CNN recipe (issue 15) -------------------------------------------------------------------
    if "g" in only:
        log("(g) CNN recipe ")
        data = a.fashion
        ep = 1
        size = ["--quick"] if a.quick else ["--epochs", str(ep)]
        parse_cnn = lambda out: {**parse_bench(out), **timev_parse(out)}
        g = gb_side("gpubp", lambda: ["/usr/bin/time", "-v", gb, "--device", a.device,
                                      os.path.join(ROOT, "scripts", "examples", "cnn_fashion.lua"),
                                      "--data", data, *size], parse=parse_cnn, timeout=1800)
        t = torch_side("PyTorch", lambda: ["/usr/bin/time", "-v", py,
                                           os.path.join(BENCH, "cnn_fashion_torch.py"),
                                           "--data", data, "--threads", str(cores), *size],
                       torch_best_env, parse=parse_cnn, timeout=1800)
        if not os.path.exists(os.path.join(data, "train-images-idx3-ubyte.gz")):
            for s_ in (g, t):
                s_.error = s_.error or f"no Fashion-MNIST in {data} (apt-get install dataset-fashion-mnist)"
        alternate([g, t], 1, log)
        log("\n")
        gv, tv = g.median("train_samples_per_s"), t.median("train_samples_per_s")
        gr, tr = g.median("maxrss_mib"), t.median("maxrss_mib")
        gc, tc = g.median("cpu_s"), t.median("cpu_s")
        sections.append(("(g) CNN recipe on Fashion-MNIST (issue 15)",
            "`scripts/examples/cnn_fashion.lua` against its twin `scripts/bench/cnn_fashion_torch.py`: "
            "Conv2d(1,32,3)-BatchNorm2d-ReLU-MaxPool2d, Conv2d(32,64,3)-BatchNorm2d-ReLU-MaxPool2d, "
            "Linear(3136,128)-ReLU-Dropout-Linear(128,10), Adam lr 1e-3, batch 64, "
            f"{'--quick (2,000 training, 1,000 test images)' if a.quick else f'{ep} epoch of 60,000, the 10k test images'} "
            "evaluated in batches of 2000. Training samples/s (wall), training CPU seconds (all threads), "
            "peak RSS of the whole run (`/usr/bin/time -v`: data, training, evaluation). "
            "Targets: samples/s ≥ 1.0× PyTorch, peak RSS ≤ PyTorch's.",
            ["", "gpubp", "PyTorch", "gpubp ÷ PyTorch", "target"],
            [["training samples / s", cell(g, "train_samples_per_s"), cell(t, "train_samples_per_s"),
              ratio(gv, tv), met(gv is not None and tv is not None and gv >= tv, gv, tv)],
             ["training CPU s", cell(g, "cpu_s", 2), cell(t, "cpu_s", 2), ratio(gc, tc), ""],
             ["peak RSS (MiB)", cell(g, "maxrss_mib"), cell(t, "maxrss_mib"), ratio(gr, tr),
              met(gr is not None and tr is not None and gr <= tr, gr, tr)],
             ["test accuracy", cell(g, "test_accuracy", 4), cell(t, "test_accuracy", 4), "", ""]],
            [g, t]))

    sample_load()
    # (t), (l) the text recipes: scripts/examples/char_*.lua against their PyTorch twins -----
    for key, title, script, twin, steps, target, what in [
            ("t", "(t) Character-level Transformer recipe", "char_transformer.lua",
             "torch_char_transformer.py", 10 if a.quick else 40, 1.2,
             "d_model 128, 4 layers, 4 heads, context 128, batch 32, AdamW, warm-up + cosine "
             "lr, gradient clipping; PyTorch's nn.MultiheadAttention with an additive causal "
             "mask"),
            ("l", "(l) Character-level LSTM recipe", "char_lstm.lua", "torch_char_lstm.py",
             10 if a.quick else 40, 1.0,
             "byte embeddings 64, nn.LSTM 2 x 256 (batch_first), context 64, batch 32, Adam "
             "lr 2e-3, gradient clipping")]:
        if key not in only:
            continue
        log(title.split(") ")[0] + ") " + script + " ")
        ex = os.path.join(ROOT, "scripts", "examples", script)
        g = gb_side("gpubp", lambda ex=ex, steps=steps: [gb, "--device", a.device, ex,
                                                         "--bench", "--steps", str(steps)],
                    timeout=900)
        t = torch_side("PyTorch tuned", lambda twin=twin, steps=steps: [
            py, os.path.join(BENCH, twin), "--bench", "--steps", str(steps), "--threads",
            str(cores)], torch_best_env, timeout=900)
        alternate([g, t], 1 if a.quick else 3, log)
        log("\n")
        gv, tv = g.median("steps_per_s"), t.median("steps_per_s")
        sections.append((f"{title} on Debian's fortunes",
            f"`scripts/examples/{script} --steps {steps}` vs `scripts/bench/{twin} --steps "
            f"{steps}`: {what}. Training steps per second after the first 5 steps, median "
            f"(higher is better); the final losses of full runs are in docs/training.md. "
            f"Target: gpubp ≥ {target}× PyTorch eager.",
            ["", "gpubp", "PyTorch tuned", "gpubp ÷ PyTorch", f"target ≥ {target}×"],
            [["steps / s", cell(g, "steps_per_s", 2), cell(t, "steps_per_s", 2), ratio(gv, tv),
              met(gv is not None and tv is not None and gv >= target * tv, gv, tv)]],
            [g, t]))
        sample_load()

    # ---- report ------------------------------------------------------------------------------
    gb_blas = gpubp_blas_name(gb if have_gb else None)
    finished = datetime.datetime.now(datetime.timezone.utc)
    lines = [
        f"Generated by `scripts/bench/run.py {' '.join(sys.argv[1:])}`".rstrip() + " on "
        f"{started:%Y-%m-%d %H:%M} UTC ({(finished - started).total_seconds():.0f} s).",
        "",
        "| machine | |",
        "|---|---|",
        f"| CPU | {model} ({'AVX-512' if 'avx512f' in flags else 'AVX2' if 'avx2' in flags else 'no AVX2'}) |",
        f"| cores (online) | {cores} |",
        f"| memory | {mem_total()} |",
        f"| OS | {os_name()}, Linux {platform.release()} |",
        f"| device | {a.device}{gpu_name() if cuda else ''} |",
        f"| gpubp | {gpubp_version(gb) if have_gb else 'not built'}; BLAS: {gb_blas} |",
        f"| PyTorch | {torch_version or 'not found'} ({py or '-'}); OpenBLAS core as installed: "
        f"{torch_core(py, torch_inst_env) if py else '-'}, tuned: "
        f"{torch_core(py, torch_best_env) if py else '-'} |",
        f"| PyTorch tuned settings | {' '.join(f'{k}={v}' for k, v in torch_best_env.items() if k.startswith(TUNING_VARS))}, torch.set_num_threads({cores}) |",
        f"| other load | {fmt_load(other_load)} cores busy, sampled between benchmarks "
        f"(load average {load_before} before, {loadavg()} after) |",
        f"| repeats | {R} for (a)/(b), medians reported{'; --quick' if a.quick else ''} |",
        "",
    ]
    samples = [v for v in other_load if v is not None]
    busy = max(samples) if samples else 0.0
    if busy > 0.3:
        lines += [f"**Busy machine:** other processes kept up to {busy:.1f} of the {cores} cores "
                  "busy between benchmarks; multi-threaded results (BLAS, PyTorch tuned) suffer "
                  "most. Rerun on an idle machine for clean numbers.", ""]
    summary = []
    for title, desc, header, rows, sides in sections:
        if not header[-1].startswith("target "):
            continue
        for r in rows:
            if r[-1] in ("met", "not met", "not measured"):
                what = title.split(" ", 1)[0] + " " + r[0].strip()
                summary.append(f"| {what} | {r[1]} | {header[-1][7:]} | {r[-1]} |")
    if summary:
        lines += ["### Targets (issues 7 and 17)", "", "| benchmark | gpubp | target | status |",
                  "|---|---|---|---|", *summary, ""]
    for title, desc, header, rows, sides in sections:
        lines += [f"### {title}", "", desc, "", "| " + " | ".join(header) + " |",
                  "|" + "---|" * len(header)]
        lines += ["| " + " | ".join(r) + " |" for r in rows]
        errs = [f"{s.label}: {s.error}" for s in sides if s.error]
        if errs:
            lines += ["", "Not measured: " + "; ".join(f"*{e}*" for e in errs)]
        lines.append("")
    table = "\n".join(lines)
    print(table)
    if not a.no_write:
        write_report(a.out, table)
        log(f"wrote {os.path.relpath(a.out, ROOT)}\n")
    broken = [f"{s.label}: {s.error}" for s in gb_sides if s.error]
    if broken:  # for CI's --quick breakage check; PyTorch missing is not a failure
        log("gpubp side failed:\n  " + "\n  ".join(broken) + "\n")
        return 1
    return 0


def fmt_load(samples):
    v = [x for x in samples if x is not None]
    if not v:
        return "unknown"
    return f"mean {statistics.mean(v):.2f}, max {max(v):.2f}"


def cell_v(side, v):
    if side.error:
        return "failed"
    return fmt(v)


def met(ok, value, ref):
    if value is None or ref is None:
        return "not measured"
    return "met" if ok else "not met"


def timev_parse(out):
    vals = {}
    m = re.search(r"Maximum resident set size \(kbytes\): (\d+)", out)
    if m:
        vals["maxrss_mib"] = int(m.group(1)) / 1024
    m = re.search(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): (\S+)", out)
    if m:
        secs = 0.0
        for part in m.group(1).split(":"):
            secs = secs * 60 + float(part)
        vals["wall_s"] = secs
    return vals


def find_mnist():
    for d in (os.environ.get("GPUBP_DATA"), os.path.join(ROOT, "data", "mnist")):
        if d and (os.path.exists(os.path.join(d, "train-images-idx3-ubyte.gz")) or
                  os.path.exists(os.path.join(d, "train-images-idx3-ubyte"))):
            return os.path.abspath(d)
    return None


def build_sgemm_bench(log):
    """Compiles sgemm_bench.c + gb_blas.c (with the gb_gemm_small kernels and the CPU pool it
    calls) against the BLAS build/ was configured with."""
    out_dir = os.path.join(ROOT, "build", "bench")
    os.makedirs(out_dir, exist_ok=True)
    exe = os.path.join(out_dir, "sgemm_bench")
    blas = "OPENBLAS"
    cache = os.path.join(ROOT, "build", "CMakeCache.txt")
    if os.path.exists(cache):
        m = re.search(r"^GPUBP_BLAS:\w+=(\w+)", open(cache).read(), re.M)
        if m and m.group(1) == "BLIS":
            blas = "BLIS"
    if blas == "OPENBLAS":
        try:
            flags, _ = run(["pkg-config", "--cflags", "--libs", "openblas"], clean_env(), 30)
        except Failed:
            blas = "BLIS"
    if blas == "OPENBLAS":
        extra = ["-DGB_BLAS_OPENBLAS=1", *flags.split()]
    else:
        extra = ["-DGB_BLAS_BLIS=1", "-I/usr/include/x86_64-linux-gnu", "-lblis"]
    cpu = os.path.join(ROOT, "runtime", "cpu")
    cmd = ["cc", "-std=c11", "-O2", "-I" + cpu, "-I" + os.path.join(ROOT, "runtime", "core"),
           *(os.path.join(cpu, f) for f in ("gb_blas.c", "gb_gemm_small.c", "gb_cpu_pool.c")),
           os.path.join(BENCH, "sgemm_bench.c"), "-o", exe, *extra, "-lpthread", "-ldl", "-lm"]
    try:
        run(cmd, clean_env(), 120)
        return exe
    except Failed as e:
        log(f"\n  sgemm_bench: build failed: {e}\n")
        return None


def gpubp_version(gb):
    try:
        out, _ = run([gb, "-v"], clean_env(), 30)
        return out.strip().splitlines()[0] if out.strip() else "unknown"
    except Failed:
        return "unknown"


def gpubp_blas_name(gb):
    """The BLAS line of `gpubp -v`, else what gb_blas (sgemm_bench) reports."""
    if gb:
        try:
            out, _ = run([gb, "-v"], clean_env(), 30)
            for line in out.splitlines():
                m = re.search(r"\b(OpenBLAS|BLIS) .*$", line)
                if m:
                    name = m.group(0).strip()
                    if name.count(")") > name.count("("):  # closing the -v line's "(...)"
                        name = name[:name.rindex(")")]
                    return name.split(";")[0].strip()
        except Failed:
            pass
    exe = os.path.join(ROOT, "build", "bench", "sgemm_bench")
    if os.path.exists(exe):
        try:
            out, _ = run([exe, "--max", "0", "--no-shapes"], clean_env(), 30)
            m = re.search(r"^BLAS (.*)$", out, re.M)
            if m:
                return m.group(1) + " (via gb_blas)"
        except Failed:
            pass
    return "unknown"


def gpu_name():
    try:
        out, _ = run(["nvidia-smi", "--query-gpu=name", "--format=csv,noheader"], clean_env(), 30)
        return f" ({out.strip().splitlines()[0]})"
    except (Failed, IndexError):
        return ""


def write_report(path, table):
    """Replaces the text between the bench markers (or appends them) and keeps the rest."""
    begin, end = "<!-- bench:begin -->", "<!-- bench:end -->"
    text = open(path).read() if os.path.exists(path) else "# Benchmarks\n\n"
    block = f"{begin}\n{table}\n{end}"
    if begin in text and end in text:
        pre, rest = text.split(begin, 1)
        post = rest.split(end, 1)[1]
        text = pre + block + post
    else:
        text = text.rstrip("\n") + "\n\n" + block + "\n"
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(text)


if __name__ == "__main__":
    sys.exit(main())
