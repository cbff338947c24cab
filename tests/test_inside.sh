#!/bin/sh
# test_inside.sh - looking inside: the per-layer diagnostics a sweep records, the stall
# explanations, recorded layer outputs, descent features, and the experiment where
# initialization decides (examples/deep_init.ini, few repeats). Prints "ok NAME" or
# "FAIL NAME".
BUILD="${BUILD:-build}"
D="$BUILD/descent"
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
PY=python3
[ -x /usr/bin/python3 ] && PY=/usr/bin/python3
pass() { echo "ok $1"; }
fail() { echo "FAIL $1: $2"; }

# ---- deep_init: the qualitative result, measured (banknotes, 10 hidden layers of 64):
# with tanh, zeros never leaves the majority-class accuracy (0.558 on this split) and
# glorot_uniform learns; with relu, he_normal learns where random_normal (sd 0.05) stalls
"$D" sweep examples/deep_init.ini --repeats 2 --epochs 6 --vary activation=tanh \
    --vary kernel_initializer=zeros,glorot_uniform --stall-patience 2 --out "$T/tanh" --quiet >/dev/null 2>&1
"$D" sweep examples/deep_init.ini --repeats 2 --epochs 6 --vary activation=relu \
    --vary kernel_initializer=he_normal,random_normal --out "$T/relu" --quiet >/dev/null 2>&1
if "$PY" - "$T" <<'PYEOF'
import csv, sys
d = sys.argv[1]
def acc(sub):
    return {r["kernel_initializer"]: (float(r["test_accuracy_mean"]), float(r["test_accuracy_max"]))
            for r in csv.DictReader(open(d + "/" + sub + "/summary.csv"))}
t, r = acc("tanh"), acc("relu")
assert t["zeros"][1] < 0.6, t
assert t["glorot_uniform"][0] > 0.9, t
assert r["he_normal"][0] > 0.9, r
assert r["random_normal"][1] < 0.6, r
# the diagnostics say why: zeros leaves every hidden unit of a layer identical; the tiny
# normal start makes the signal fade with depth
runs = list(csv.DictReader(open(d + "/relu/runs.csv")))
std = {}
for x in runs:
    if x["kernel_initializer"] == "random_normal" and x["repeat"] == "0" and x["epoch"] == "0" \
            and x["metric"].endswith("/act_std"):
        std[x["metric"].split("/")[1]] = float(x["value"])
hidden = [v for k, v in std.items() if k != "dense_10"]
assert min(hidden) < 1e-2 * std["dense"], std
sw = list(csv.DictReader(open(d + "/tanh/summary.csv")))
assert [int(s["stalls"]) >= 1 for s in sw if s["kernel_initializer"] == "zeros"] == [True], sw
PYEOF
then pass inside_deep_init_qualitative; else fail inside_deep_init_qualitative "see the python check"; fi
if grep -a -q '^reason identical units in dense' "$T/tanh/.runs"; then pass inside_stall_reason_symmetry
else fail inside_stall_reason_symmetry "$(grep -a '^reason' "$T/tanh/.runs" | sort | uniq -c)"; fi

# ---- recorded layer outputs (the course's inner-layer cells): repeat 0 of each
# configuration, every epoch, in the report
"$D" sweep examples/inner_layer.ini --repeats 2 --epochs 4 --out "$T/inner" --quiet >"$T/inner.txt" 2>&1
if [ $? -eq 0 ] && grep -q 'epoch 4' "$T/inner/report.html"; then pass inside_record_layer
else fail inside_record_layer "$(tail -3 "$T/inner.txt")"; fi
exit 0
