#!/usr/bin/python3
"""make bench: the project's speed workloads, each against its alternative measured in the
same run (alternating runs, median of --repeats), printed as tables with ratios.

  W1 banknote-init-sweep  descent sweep examples/initializers.ini (150 runs), whole process,
                          against bench/w1_torch.py doing the same in PyTorch; accuracies
                          side by side.
  W2 fashion-mlp          784-256-128-10 on Fashion-MNIST, 3 epochs, batch 64, at 1 and 2
                          threads: seconds per epoch, effective GFLOP/s, test accuracy and
                          peak memory, against bench/w2_torch.py (OpenBLAS threads pinned;
                          also with OPENBLAS_CORETYPE=SkylakeX where the CPU has AVX-512),
                          and descent with zero skipping off (DESCENT_SKIP_ZEROS=0).
  W3 kernels              build/bench/kernels (matrix products against the Debian BLAS
                          libraries installed - OpenBLAS, BLIS, ATLAS, reference - and the
                          measured FMA peak, one thread each), when built.

Usage: bench.py BUILD [--repeats N] [--only W1,W2,W3]"""
import argparse
import csv
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PY = "/usr/bin/python3" if os.path.exists("/usr/bin/python3") else sys.executable
FASHION = "/usr/share/datasets/fashion-mnist"


def run(cmd, env=None):
    """Runs cmd; returns (seconds, peak RSS in MiB, stdout)."""
    t0 = time.perf_counter()
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env, cwd=ROOT)
    out = p.stdout.read().decode()
    _, status, ru = os.wait4(p.pid, 0)
    dt = time.perf_counter() - t0
    if status != 0:
        sys.exit("bench: %s failed:\n%s" % (" ".join(cmd), out[-2000:]))
    return dt, ru.ru_maxrss / 1024.0, out


def env_with(**kw):
    e = dict(os.environ)
    for k, v in kw.items():
        if v is None:
            e.pop(k, None)
        else:
            e[k] = str(v)
    return e


def table(title, header, rows):
    print("\n" + title)
    widths = [max(len(str(x)) for x in col) for col in zip(header, *rows)]
    fmt = "  ".join("%%-%ds" % w for w in widths)
    print(fmt % tuple(header))
    print(fmt % tuple("-" * w for w in widths))
    for r in rows:
        print(fmt % tuple(r))


def w1(build, repeats):
    descent = os.path.join(build, "descent")
    times_d, times_t = [], []
    acc_d, acc_t = {}, {}
    out = tempfile.mkdtemp()
    try:
        for i in range(repeats):
            shutil.rmtree(out, ignore_errors=True)  # no journal: every run trains
            dt, _, _ = run([descent, "sweep", "examples/initializers.ini", "--out", out, "--quiet"])
            times_d.append(dt)
            dt, _, text = run([PY, "bench/w1_torch.py", "data/banknotes.csv"],
                              env=env_with(OMP_NUM_THREADS=1, OPENBLAS_NUM_THREADS=1))
            times_t.append(dt)
        for r in csv.DictReader(open(os.path.join(out, "summary.csv"))):
            acc_d[r["kernel_initializer"]] = (float(r["test_accuracy_mean"]), float(r["test_accuracy_std"]))
        for line in text.split("\n"):
            if line.strip():
                name, m, s = line.split()
                acc_t[name] = (float(m), float(s))
    finally:
        shutil.rmtree(out, ignore_errors=True)
    md, mt = statistics.median(times_d), statistics.median(times_t)
    table("W1 banknote-init-sweep: 5 initializers x 30 repeats, whole process (median of %d)" % repeats,
          ["system", "seconds", "ratio"],
          [["descent sweep (all cores)", "%.3f" % md, "1"],
           ["PyTorch %s, 1 thread" % torch_version(), "%.3f" % mt, "%.0fx slower" % (mt / md)]])
    rows = []
    for k in acc_d:
        d, t = acc_d[k], acc_t.get(k, (float("nan"), float("nan")))
        agree = abs(d[0] - t[0]) <= max(d[1], t[1])
        rows.append([k, "%.4f +- %.4f" % d, "%.4f +- %.4f" % t, "yes" if agree else "NO"])
    table("W1 mean test accuracy over 30 repeats (same split, same formulas; seeds differ)",
          ["initializer", "descent", "PyTorch", "within spread"], rows)


def torch_version():
    try:
        return subprocess.run([PY, "-c", "import torch; print(torch.__version__)"],
                              capture_output=True, text=True).stdout.strip()
    except OSError:
        return "?"


def has_avx512():
    try:
        return "avx512f" in open("/proc/cpuinfo").read()
    except OSError:
        return False


W2_WEIGHTS = 784 * 256 + 256 * 128 + 128 * 10


def w2(build, repeats):
    if not os.path.exists(FASHION + "/train-images-idx3-ubyte.gz"):
        print("\nW2 skipped: install Debian's dataset-fashion-mnist")
        return
    descent = os.path.join(build, "descent")
    common = ["train", "--data", FASHION + "/train-images-idx3-ubyte.gz",
              "--test-data", FASHION + "/t10k-images-idx3-ubyte.gz",
              "--layers", "dense(256, relu), dense(128, relu), dense(10, softmax)",
              "--loss", "sparse_categorical_crossentropy", "--target-mode", "sparse",
              "--optimizer", "sgd(learning_rate=0.01, momentum=0.9)", "--batch-size", "64",
              "--epochs", "3"]
    systems = []
    for th in (1, 2):
        systems.append(("descent, %d thread%s" % (th, "s" if th > 1 else ""),
                        [descent] + common + ["--threads", str(th)],
                        env_with(DESCENT_SKIP_ZEROS=None), th))
    for th in (1, 2):
        systems.append(("descent, %d thread%s, zeros not skipped" % (th, "s" if th > 1 else ""),
                        [descent] + common + ["--threads", str(th)],
                        env_with(DESCENT_SKIP_ZEROS=0), th))
    for th in (1, 2):
        systems.append(("PyTorch, %d thread%s" % (th, "s" if th > 1 else ""),
                        [PY, "bench/w2_torch.py", str(th)],
                        env_with(OPENBLAS_NUM_THREADS=th, OMP_NUM_THREADS=th), th))
        if has_avx512():
            systems.append(("PyTorch, %d thread%s, OpenBLAS SkylakeX" % (th, "s" if th > 1 else ""),
                            [PY, "bench/w2_torch.py", str(th)],
                            env_with(OPENBLAS_NUM_THREADS=th, OMP_NUM_THREADS=th,
                                     OPENBLAS_CORETYPE="SkylakeX", OPENBLAS_L2_SIZE=None), th))
    res = {name: {"epoch": [], "rss": [], "acc": None} for name, _, _, _ in systems}
    # the machine's own 2-thread ceiling, between the runs: on a shared machine the second
    # core is sometimes another program's for seconds at a time
    probe = os.path.join(build, "bench", "mlp")
    # and how far apart its two processors are: a cache line's round trip between them
    # (src/pool.c runs alone while two threads would be slower)
    ceiling, trips = [], []
    for i in range(repeats):
        if os.path.exists(probe):
            out = subprocess.run([probe, "--probe", "100"], capture_output=True, text=True).stdout
            m = re.search(r"probe 2-thread speedup ([0-9.]+)", out)
            if m:
                ceiling.append(float(m.group(1)))
            m = re.search(r"probe round trip ([0-9.]+) ns", out)
            if m:
                trips.append(float(m.group(1)))
        for name, cmd, env, _ in systems:
            _, rss, out = run(cmd, env)
            if cmd[0] == descent:
                secs = [float(m) for m in re.findall(r"^\d+/\d+ - ([0-9.]+)s", out, re.M)]
                acc = re.search(r"^test - loss: [0-9.]+ - accuracy: ([0-9.]+)", out, re.M).group(1)
            else:
                secs = [float(m) for m in re.findall(r"^epoch \d+ seconds ([0-9.]+)", out, re.M)]
                acc = re.search(r"^test_accuracy ([0-9.]+)", out, re.M).group(1)
            res[name]["epoch"] += secs
            res[name]["rss"].append(rss)
            res[name]["acc"] = float(acc)
    base = {1: statistics.median(res["descent, 1 thread"]["epoch"]),
            2: statistics.median(res["descent, 2 threads"]["epoch"])}
    rows = []
    for name, _, _, th in systems:
        s = statistics.median(res[name]["epoch"])
        gf = 6.0 * W2_WEIGHTS * 60000 / s / 1e9
        rows.append([name, "%.3f" % s, "%.1f" % gf, "%.2f" % (s / base[th]),
                     "%.4f" % res[name]["acc"], "%.0f" % max(res[name]["rss"])])
    table("W2 fashion-mlp: 784-256-128-10, batch 64, sgd momentum 0.9, 3 epochs "
          "(median epoch of %d runs)" % repeats,
          ["system", "s/epoch", "GFLOP/s", "time / descent", "test acc", "peak MiB"], rows)
    print("descent 2 threads vs 1: %.2fx faster" % (base[1] / base[2]) +
          ("; the FMA probe between the runs: %.2fx (%.2f-%.2f)" %
           (statistics.median(ceiling), min(ceiling), max(ceiling)) if ceiling else "") +
          ("; a cache line between the processors and back: %.0f-%.0f ns" %
           (min(trips), max(trips)) if trips else ""))
    data_mib = (60000 + 10000) * 785 * 4 / 2 ** 20
    print("data set as float32: %.0f MiB; parameters + momentum: %.1f MiB" %
          (data_mib, 2 * (W2_WEIGHTS + 394) * 4 / 2 ** 20))


def w3(build):
    exe = os.path.join(build, "bench", "kernels")
    if not os.path.exists(exe):
        print("\nW3 skipped: %s not built" % exe)
        return
    print()
    subprocess.run([exe], cwd=ROOT,
                   env=env_with(OPENBLAS_NUM_THREADS=1, BLIS_NUM_THREADS=1, OMP_NUM_THREADS=1))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("build")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--only", default="W1,W2,W3")
    a = ap.parse_args()
    only = a.only.split(",")
    print("descent bench on %s, %d cores" % (cpu_name(), os.cpu_count()))
    print("versions: %s; PyTorch %s; OpenBLAS %s; %s" % (
        subprocess.run([os.path.join(a.build, "descent"), "--version"], capture_output=True,
                       text=True).stdout.strip(),
        torch_version(), deb_version("libopenblas0-pthread") or deb_version("libopenblas0"),
        subprocess.run(["cc", "--version"], capture_output=True, text=True).stdout.split("\n")[0]))
    print("threads: descent sweep runs one configuration repeat per core (--jobs); PyTorch "
          "pinned with torch.set_num_threads, OMP_NUM_THREADS and OPENBLAS_NUM_THREADS")
    if "W1" in only:
        w1(a.build, a.repeats)
    if "W2" in only:
        w2(a.build, a.repeats)
    if "W3" in only:
        w3(a.build)


def deb_version(package):
    try:
        return subprocess.run(["dpkg-query", "-W", "-f=${Version}", package], capture_output=True,
                              text=True).stdout.strip()
    except OSError:
        return ""


def cpu_name():
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "?"


if __name__ == "__main__":
    main()
