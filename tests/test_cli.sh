#!/bin/sh
# test_cli.sh - the descent command end to end: train and sweep on the bundled data,
# the files a sweep writes (read back with Python's csv module), determinism across
# runs and thread counts, resuming an interrupted sweep, and every user error giving
# exit status 2, a message naming what was wrong, and no output.
# Prints "ok NAME" or "FAIL NAME" per test (tests/run.sh counts them).
BUILD="${BUILD:-build}"
D="$BUILD/descent"
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
PY=python3
[ -x /usr/bin/python3 ] && PY=/usr/bin/python3

pass() { echo "ok $1"; }
fail() { echo "FAIL $1: $2"; }

# expect_error NAME EXPECTED_TEXT COMMAND...: exit 2, message on stderr containing TEXT,
# nothing on stdout, and no folder $T/never
expect_error() {
    name=$1 text=$2
    shift 2
    "$@" >"$T/out.txt" 2>"$T/err.txt"
    rc=$?
    if [ "$rc" -ne 2 ]; then fail "$name" "exit $rc, expected 2: $(cat "$T/err.txt")"
    elif ! grep -qF -- "$text" "$T/err.txt"; then fail "$name" "message lacks '$text': $(cat "$T/err.txt")"
    elif [ "$(wc -l <"$T/err.txt")" -ne 1 ]; then fail "$name" "message is not one line: $(cat "$T/err.txt")"
    elif [ -e "$T/never" ]; then fail "$name" "wrote $T/never"
    else pass "$name"
    fi
}

# ---- basics
if "$D" --version | grep -q '^descent [0-9]' && "$D" sweep --help | grep -qF 'batch-size N' &&
   "$D" train --help | grep -qF '[32]'; then pass cli_version_help
else fail cli_version_help "version or help text"; fi

# ---- train: the course's logistic regression reaches the accuracy the engine test sees
"$D" train --data data/banknotes.csv --target class --layers "dense(1, sigmoid)" \
    --optimizer "adam(learning_rate=0.01)" --batch-size 16 --epochs 20 >"$T/train.txt" 2>&1
rc=$?
acc=$(sed -n 's/^test - loss: [0-9.]* - accuracy: \([0-9.]*\)$/\1/p' "$T/train.txt")
if [ "$rc" -eq 0 ] && [ -n "$acc" ] && awk "BEGIN{exit !($acc >= 0.95)}" &&
   grep -q '^Epoch 20/20' "$T/train.txt" && grep -q 'Total params: 5' "$T/train.txt"; then
    pass cli_train_banknotes
else fail cli_train_banknotes "exit $rc, accuracy '$acc': $(tail -3 "$T/train.txt")"; fi

# wines: target in the first column, softmax output -> one-hot targets, categorical loss
"$D" train --data data/wines.csv --target Class --layers "dense(8, relu), dense(3, softmax)" \
    --optimizer "rmsprop(0.01)" --epochs 30 --batch-size 16 >"$T/wines.txt" 2>&1
acc=$(sed -n 's/^test - loss: [0-9.]* - accuracy: \([0-9.]*\)$/\1/p' "$T/wines.txt")
if [ -n "$acc" ] && awk "BEGIN{exit !($acc >= 0.9)}" && grep -q "(1, 2, 3)" "$T/wines.txt"; then
    pass cli_train_wines_onehot
else fail cli_train_wines_onehot "accuracy '$acc': $(tail -3 "$T/wines.txt")"; fi

# iris: string labels, sparse targets
"$D" train --data data/iris.csv --layers "dense(3, softmax)" --loss sparse_categorical_crossentropy \
    --optimizer "adam(0.05)" --epochs 40 --batch-size 8 --stratify true >"$T/iris.txt" 2>&1
acc=$(sed -n 's/^test - loss: [0-9.]* - accuracy: \([0-9.]*\)$/\1/p' "$T/iris.txt")
if [ -n "$acc" ] && awk "BEGIN{exit !($acc >= 0.85)}" &&
   grep -q "(setosa, versicolor, virginica)" "$T/iris.txt"; then pass cli_train_iris_sparse
else fail cli_train_iris_sparse "accuracy '$acc': $(tail -3 "$T/iris.txt")"; fi

# divergence: exit 3, and the message names epoch and batch
"$D" train --data data/wines.csv --target Class --target-mode regression --layers "dense(1)" \
    --optimizer "sgd(learning_rate=1000000)" --epochs 50 --quiet >"$T/div.txt" 2>"$T/diverr.txt"
rc=$?
if [ "$rc" -eq 3 ] && grep -q "diverged.*epoch [0-9]*, batch" "$T/diverr.txt"; then pass cli_train_diverged
else fail cli_train_diverged "exit $rc: $(cat "$T/diverr.txt")"; fi

# ---- sweep: the files, read back
SW="--data data/banknotes.csv --target class --layers dense(1,sigmoid) --epochs 4 --batch-size 16 --repeats 3 --validation-split 0.2 --quiet"
"$D" sweep $SW --vary kernel_initializer=zeros,he_normal,lecun_uniform --out "$T/a" >"$T/sweep.txt" 2>&1
rc=$?
if [ "$rc" -eq 0 ] && for f in history.csv runs.csv summary.csv report.html loss.svg accuracy.svg \
        val_loss.svg val_accuracy.svg; do [ -s "$T/a/$f" ] || exit 1; done &&
   grep -q "report: $T/a/report.html" "$T/sweep.txt" && grep -q '^he_normal' "$T/sweep.txt"; then
    pass cli_sweep_files
else fail cli_sweep_files "exit $rc: $(cat "$T/sweep.txt")"; fi

if "$PY" - "$T/a" <<'PYEOF'
import csv, sys, math
d = sys.argv[1]
rows = list(csv.reader(open(d + "/history.csv")))
configs, metrics, index = rows[0], rows[1], rows[2]
assert configs[0] == "configuration" and metrics[0] == "metric" and index[0] == "epoch", rows[:3]
assert all(v == "" for v in index[1:])
cols = list(zip(configs[1:], metrics[1:]))
assert len(set(cols)) == len(cols) == 3 * 4, cols
assert set(m for _, m in cols) == {"loss", "accuracy", "val_loss", "val_accuracy"}
data = rows[3:]
assert [r[0] for r in data] == ["0", "1", "2", "3"], [r[0] for r in data]
# every cell is the mean over repeats of runs.csv's values
runs = list(csv.DictReader(open(d + "/runs.csv")))
assert set(r["repeat"] for r in runs) == {"0", "1", "2"}
seeds = {}
for r in runs:
    seeds.setdefault((r["configuration"], r["repeat"]), set()).add(r["seed"])
assert all(len(s) == 1 for s in seeds.values())
# paired seeds: repeat r has the same seed in every configuration
for rep in "012":
    assert len({seeds[(c, rep)].pop() for c in ("zeros", "he_normal", "lecun_uniform")}) == 1
for j, (c, m) in enumerate(cols):
    for row in data:
        vals = [float(r["value"]) for r in runs if r["configuration"] == c and r["metric"] == m
                and r["epoch"] == row[0]]
        assert len(vals) == 3, (c, m, row[0], vals)
        mean = sum(vals) / 3
        assert abs(float(row[j + 1]) - mean) <= 1e-6 * max(1, abs(mean)), (c, m, row[0])
tests = [r for r in runs if r["metric"].startswith("test_")]
assert {r["metric"] for r in tests} == {"test_loss", "test_accuracy"} and len(tests) == 18
summ = list(csv.DictReader(open(d + "/summary.csv")))
assert [s["kernel_initializer"] for s in summ] == ["zeros", "he_normal", "lecun_uniform"]
for s in summ:
    accs = [float(r["value"]) for r in tests if r["configuration"] == s["kernel_initializer"]
            and r["metric"] == "test_accuracy"]
    assert abs(float(s["test_accuracy_mean"]) - sum(accs) / 3) < 1e-5
PYEOF
then pass cli_sweep_tables_read_back; else fail cli_sweep_tables_read_back "python check"; fi

# ---- determinism: the same sweep again, on 1 and on 2 threads
"$D" sweep $SW --vary kernel_initializer=zeros,he_normal,lecun_uniform --out "$T/b" --jobs 1 >/dev/null 2>&1
"$D" sweep $SW --vary kernel_initializer=zeros,he_normal,lecun_uniform --out "$T/c" --jobs 2 >/dev/null 2>&1
same=1
for f in runs.csv history.csv summary.csv; do
    cmp -s "$T/a/$f" "$T/b/$f" && cmp -s "$T/a/$f" "$T/c/$f" || same=0
done
if [ "$same" -eq 1 ]; then pass cli_sweep_deterministic_jobs_1_2
else fail cli_sweep_deterministic_jobs_1_2 "outputs differ"; fi

# ---- resume: a sweep killed part-way and run again equals one never interrupted
RS="--data data/banknotes.csv --target class --layers dense(4,tanh),dense(1,sigmoid) --epochs 400 --batch-size 8 --repeats 8 --jobs 1 --quiet"
"$D" sweep $RS --vary learning_rate=0.001,0.01 --out "$T/full" >/dev/null 2>&1
"$D" sweep $RS --vary learning_rate=0.001,0.01 --out "$T/part" >/dev/null 2>&1 &
pid=$!
# kill it as soon as some runs are finished and others are not
i=0
records() { n=$(grep -c '^end ' "$T/part/.runs" 2>/dev/null); echo "${n:-0}"; }
while [ "$i" -lt 200 ] && [ "$(records)" -lt 2 ]; do
    sleep 0.05
    i=$((i + 1))
done
kill -9 "$pid" 2>/dev/null
wait "$pid" 2>/dev/null
done_before=$(records)
# killed before the end: no table was written, complete or otherwise
partial=$(ls "$T/part" | grep -c 'csv\|html\|svg')
# and cut the journal in the middle of a record, as a kill during a write would
size=$(wc -c <"$T/part/.runs")
head -c $((size - 40)) "$T/part/.runs" >"$T/journal" && cat "$T/journal" >"$T/part/.runs"
"$D" sweep $RS --vary learning_rate=0.001,0.01 --out "$T/part" >/dev/null 2>&1
same=1
for f in runs.csv history.csv summary.csv; do cmp -s "$T/full/$f" "$T/part/$f" || same=0; done
if [ "$same" -eq 1 ] && [ "$done_before" -ge 2 ] && [ "$done_before" -lt 16 ] &&
   [ "$partial" -eq 0 ]; then pass cli_sweep_resume
else fail cli_sweep_resume "runs done before the kill: $done_before, tables: $partial"; fi
# a rerun of a finished sweep trains nothing and writes the same files
"$D" sweep $RS --vary learning_rate=0.001,0.01 --out "$T/full" >/dev/null 2>&1
cp "$T/full/runs.csv" "$T/runs1.csv"
if cmp -s "$T/runs1.csv" "$T/part/runs.csv"; then pass cli_sweep_rerun_same
else fail cli_sweep_rerun_same "rerun changed runs.csv"; fi

# ---- experiment files
if "$D" sweep examples/initializers.ini --repeats 2 --epochs 2 --out "$T/ini" --quiet >"$T/ini.txt" 2>&1 &&
   grep -q '^lecun_uniform' "$T/ini.txt" && [ -s "$T/ini/report.html" ] &&
   grep -q "kernel_initializer" "$T/ini/summary.csv"; then pass cli_sweep_experiment_file
else fail cli_sweep_experiment_file "$(cat "$T/ini.txt")"; fi

# ---- stalls and restarts: with learning rate 0 nothing ever improves, so every attempt
# stalls after stall_patience epochs; each run restarts twice with new seeds, then its
# final attempt runs to the end and is counted as stalled
"$D" sweep --data data/banknotes.csv --target class --layers "dense(1, sigmoid)" --learning-rate 0 \
    --epochs 6 --repeats 3 --restarts 2 --stall-patience 2 --vary batch_size=16,32 \
    --out "$T/stall" --quiet >/dev/null 2>&1
if "$PY" - "$T/stall" <<'PYEOF'
import csv, sys
d = sys.argv[1]
summ = list(csv.DictReader(open(d + "/summary.csv")))
assert len(summ) == 2
for s in summ:
    assert s["restarts"] == "6" and s["stalls"] == "3", s
runs = list(csv.DictReader(open(d + "/runs.csv")))
# the final attempts ran all 6 epochs, with seeds other than the paired ones
assert max(int(r["epoch"]) for r in runs) == 5
seeds = {(r["configuration"], r["repeat"]): r["seed"] for r in runs}
assert len(set(seeds.values())) == 3, seeds   # paired: one seed per repeat
html = open(d + "/report.html").read()
assert "restarts" in html
PYEOF
then pass cli_sweep_stall_restarts; else fail cli_sweep_stall_restarts "python check"; fi

# ---- every experiment in examples/ runs (one repeat, one epoch)
ok=1
for f in examples/*.ini; do
    "$D" sweep "$f" --repeats 1 --epochs 1 --out "$T/ex" --quiet >"$T/ex.txt" 2>&1 || {
        ok=0
        echo "  $f: $(cat "$T/ex.txt")"
    }
done
if [ "$ok" -eq 1 ]; then pass cli_examples_run; else fail cli_examples_run "an example failed"; fi

# ---- the C example: the course's logistic regression against the public header
if "$BUILD/examples/logistic" data/banknotes.csv 42 >"$T/logistic.txt" 2>&1 &&
   grep -q '^Epoch 10/10' "$T/logistic.txt" && grep -q '^test loss: .* - test accuracy: ' "$T/logistic.txt"; then
    pass example_logistic
else fail example_logistic "$(tail -3 "$T/logistic.txt")"; fi

# ---- user errors: exit 2, one line naming the culprit, nothing written
printf 'a,b,y\n1,2,0\n3,abc,1\n' >"$T/bad.csv"
: >"$T/empty.csv"
printf '[data]\ndata = ../data/banknotes.csv\n[fit]\nbatch_size = zero\n' >"$T/bad.ini"
printf '[data]\nrepeats = 3\n' >"$T/misplaced.ini"
N="--out $T/never --quiet"
expect_error cli_err_unknown_initializer "he_nromal" "$D" sweep --data data/banknotes.csv --kernel-initializer he_nromal $N
expect_error cli_err_unknown_initializer_vary "he_nromal" "$D" sweep --data data/banknotes.csv --vary kernel_initializer=zeros,he_nromal $N
expect_error cli_err_unknown_optimizer "adamx" "$D" sweep --data data/banknotes.csv --optimizer adamx $N
expect_error cli_err_bad_optimizer_value "rho" "$D" sweep --data data/banknotes.csv --optimizer "rmsprop(rho=1.5)" $N
expect_error cli_err_bad_option_value "--batch-size" "$D" sweep --data data/banknotes.csv --batch-size 0 $N
expect_error cli_err_negative_lr "learning_rate" "$D" train --data data/banknotes.csv --learning-rate -1
expect_error cli_err_unknown_option "--bogus" "$D" sweep --data data/banknotes.csv --bogus 1 $N
expect_error cli_err_missing_target "'nope'" "$D" sweep --data data/banknotes.csv --target nope $N
expect_error cli_err_non_numeric_cell "bad.csv:3:2" "$D" sweep --data "$T/bad.csv" $N
expect_error cli_err_empty_file "empty.csv" "$D" sweep --data "$T/empty.csv" $N
expect_error cli_err_directory "is a directory" "$D" sweep --data data $N
expect_error cli_err_missing_file "nofile.csv" "$D" train --data "$T/nofile.csv"
expect_error cli_err_no_data "--data" "$D" sweep $N
expect_error cli_err_layers "dense(x)" "$D" sweep --data data/banknotes.csv --layers "dense(x)" $N
expect_error cli_err_output_units "needs 1" "$D" sweep --data data/banknotes.csv --layers "dense(3, softmax), dense(2)" $N
expect_error cli_err_ini_value "bad.ini:4" "$D" sweep "$T/bad.ini" $N
expect_error cli_err_ini_section "misplaced.ini:2" "$D" sweep "$T/misplaced.ini" $N
expect_error cli_err_missing_ini "nothere.ini" "$D" sweep "$T/nothere.ini" $N
expect_error cli_err_vary_unknown "'bogus'" "$D" sweep --data data/banknotes.csv --vary bogus=1,2 $N
expect_error cli_err_unknown_command "frobnicate" "$D" frobnicate
touch "$T/file"
expect_error cli_err_out_is_file "not a directory" "$D" sweep --data data/banknotes.csv --out "$T/file" --quiet
exit 0
