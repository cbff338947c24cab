#!/bin/sh
# The two entry points on a fresh Debian 12 machine; each installs what it needs first.
#   ./run.sh study   the initializer study on the bundled banknote data: a summary on the
#                    terminal and out/initializers/report.html
#   ./run.sh check   build everything and run the whole test suite
set -e
cd "$(dirname "$0")"
case "${1:-}" in
    study)
        sh scripts/deps.sh build
        make -s all
        ./build/descent sweep examples/initializers.ini
        ;;
    check)
        sh scripts/deps.sh test
        make -s check
        ;;
    *)
        echo "usage: ./run.sh study | check" >&2
        exit 2
        ;;
esac
