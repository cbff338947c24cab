#!/bin/sh
# Runs every test binary in BUILD/tests and every tests/*.sh script, prints each test's
# line, and ends with "N passed, N failed". Exit status 1 when anything failed.
build="${1:-build}"
passed=0
failed=0
log=$(mktemp)
trap 'rm -f "$log"' EXIT
# count one test program's "ok" and "FAIL" lines; a non-zero exit without a FAIL line
# counts as one failure
tally() {
    cat "$log"
    p=$(grep -c '^ok ' "$log")
    f=$(grep -c '^FAIL ' "$log")
    if [ "$1" -ne 0 ] && [ "$f" -eq 0 ]; then
        echo "FAIL $2 (exit status $1)"
        f=1
    fi
    passed=$((passed + p))
    failed=$((failed + f))
}
for t in "$build"/tests/test_*; do
    case "$t" in *.o|*.d) continue ;; esac
    [ -x "$t" ] || continue
    "$t" >"$log" 2>&1
    tally $? "$(basename "$t")"
done
for s in tests/test_*.sh; do
    [ -f "$s" ] || continue
    BUILD="$build" sh "$s" >"$log" 2>&1
    tally $? "$(basename "$s")"
done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
