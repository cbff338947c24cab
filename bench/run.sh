#!/bin/sh
# make bench: builds the benchmarks against BUILD's library and runs them (on demand,
# never part of make check or CI). OpenBLAS (Debian libopenblas-dev) is the yardstick of
# bench/kernels.c only; the library never links it.
#   sh bench/run.sh [BUILD]    environment: BENCH_ARGS (kernels), MLP_ARGS (mlp)
set -e
build="${1:-build}"
sh scripts/deps.sh bench
cc="${CC:-cc}"
flags="-O2 -g -std=c11 -D_POSIX_C_SOURCE=200809L -Wall -Wextra -Wpedantic -Wshadow -Wdouble-promotion -Iinclude"
blas_cflags=$(pkg-config --cflags openblas 2>/dev/null || true)
blas_libs=$(pkg-config --libs openblas 2>/dev/null || echo -lopenblas)
mkdir -p "$build/bench"
# shellcheck disable=SC2086
$cc $flags $blas_cflags bench/kernels.c "$build/libdescent.a" $blas_libs -lm -lpthread \
    -o "$build/bench/kernels"
# shellcheck disable=SC2086
$cc $flags bench/mlp.c "$build/libdescent.a" -lm -lpthread -o "$build/bench/mlp"
echo "== bench/kernels: descent's products against OpenBLAS, one core"
# shellcheck disable=SC2086
"$build/bench/kernels" ${BENCH_ARGS:-}
echo
echo "== bench/mlp: training speed, 1 and 2 threads"
# shellcheck disable=SC2086
"$build/bench/mlp" ${MLP_ARGS:---scaling}
