#!/bin/sh
# Installs the Debian packages descent needs, only those that are missing.
#   scripts/deps.sh build   compiler, make, pkg-config, libcsv, inih, jansson (model files)
#   scripts/deps.sh test    the above plus what the tests use: python3 (its csv module
#                           reads outputs back), python3-numpy (examples/load_model.py)
#                           and chromium (renders the report)
#   scripts/deps.sh fuzz    the build packages plus clang (libFuzzer), for make fuzz
#   scripts/deps.sh bench   the build's plus the BLAS libraries bench/kernels compares
#                           against (runtime packages only, loaded with dlopen): OpenBLAS,
#                           BLIS, ATLAS and the reference BLAS. All four register as
#                           alternatives for libblas.so.3; OpenBLAS's priority (100) keeps
#                           it the system's default.
set -e
pkgs="gcc make pkg-config libc6-dev libcsv-dev libinih-dev libjansson-dev zlib1g-dev"
case "${1:-build}" in
    test) pkgs="$pkgs python3 python3-numpy chromium" ;;
    fuzz) pkgs="$pkgs clang" ;;
    bench) pkgs="$pkgs libopenblas0-pthread libblis4-pthread libatlas3-base libblas3" ;;
esac
missing=""
for p in $pkgs; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
echo "descent: installing missing Debian packages:$missing" >&2
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
