#!/bin/sh
# make bench: the workloads of bench/ (on demand, never part of make check or CI).
# Installs what they compare against if missing (Debian's PyTorch, the BLAS libraries,
# Fashion-MNIST), builds bench/kernels.c (W3, against every Debian BLAS installed, which it
# loads at run time with one thread each: nothing to link) and bench/mlp.c against BUILD's
# library, then runs bench/bench.py (W1, W2, W3) and bench/mlp.
#   sh bench/run.sh [BUILD]    environment: BENCH_ARGS (bench.py), MLP_ARGS (mlp)
set -e
build="${1:-build}"
sh scripts/deps.sh bench
missing=""
for p in python3-torch python3-numpy dataset-fashion-mnist; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
    echo "bench: installing$missing" >&2
    SUDO=""
    [ "$(id -u)" -eq 0 ] || SUDO="sudo"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi
cc="${CC:-cc}"
flags="-O2 -g -std=c11 -D_POSIX_C_SOURCE=200809L -Wall -Wextra -Wpedantic -Wshadow -Wdouble-promotion -Iinclude"
mkdir -p "$build/bench"
# shellcheck disable=SC2086
$cc $flags bench/kernels.c "$build/libdescent.a" -ldl -lm -lpthread -o "$build/bench/kernels"
# shellcheck disable=SC2086
$cc $flags bench/mlp.c "$build/libdescent.a" -lz -lm -lpthread -o "$build/bench/mlp"
# shellcheck disable=SC2086
/usr/bin/python3 bench/bench.py "$build" ${BENCH_ARGS:-}
echo
echo "== bench/mlp: training speed, 1 and 2 threads, and how it scales"
# shellcheck disable=SC2086
"$build/bench/mlp" ${MLP_ARGS:---scaling --fashion /usr/share/datasets/fashion-mnist}
