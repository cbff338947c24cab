#!/bin/sh
# test_cli_model.sh - models that last, through the command: train --save, predict,
# evaluate, inspect, --resume equal to training that never stopped, checkpoints, and
# errors for damaged or mismatched files. Prints "ok NAME" or "FAIL NAME".
BUILD="${BUILD:-build}"
D="$BUILD/descent"
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
pass() { echo "ok $1"; }
fail() { echo "FAIL $1: $2"; }

COMMON="--data data/banknotes.csv --target class --layers dense(6,tanh),dropout(0.2),dense(1,sigmoid) --optimizer adam(learning_rate=0.01) --batch-size 16 --validation-split 0.2 --seed 7 --quiet"

# ---- save, inspect, predict, evaluate
"$D" train $COMMON --epochs 6 --save "$T/full.safetensors" >"$T/full.txt" 2>&1
rc=$?
if [ "$rc" -eq 0 ] && [ -s "$T/full.safetensors" ]; then pass model_train_save
else fail model_train_save "exit $rc: $(cat "$T/full.txt")"; fi

"$D" inspect "$T/full.safetensors" >"$T/inspect.txt" 2>&1
if grep -q 'Total params: 37' "$T/inspect.txt" && grep -q 'dropout (Dropout)' "$T/inspect.txt" &&
   grep -q 'epochs trained: 6' "$T/inspect.txt" && grep -q 'optimizer: adam' "$T/inspect.txt" &&
   grep -q 'target: class' "$T/inspect.txt"; then pass model_inspect
else fail model_inspect "$(cat "$T/inspect.txt")"; fi

"$D" predict --model "$T/full.safetensors" --data data/banknotes.csv --proba --out "$T/pred.csv" 2>"$T/err.txt"
rc=$?
if [ "$rc" -eq 0 ] && [ "$(head -1 "$T/pred.csv")" = "prediction,p_1" ] &&
   [ "$(wc -l <"$T/pred.csv")" -eq 1373 ] &&
   [ "$(tail -n +2 "$T/pred.csv" | grep -cv '^[01],[0-9.e-]*$')" -eq 0 ]; then
    pass model_predict
else fail model_predict "exit $rc: $(cat "$T/err.txt") $(head -3 "$T/pred.csv")"; fi

# predictions without the target column (a file of features only) are the same
cut -d, -f1-4 data/banknotes.csv >"$T/features.csv"
"$D" predict --model "$T/full.safetensors" --data "$T/features.csv" --proba >"$T/pred2.csv" 2>&1
if cmp -s "$T/pred.csv" "$T/pred2.csv"; then pass model_predict_without_target
else fail model_predict_without_target "$(head -3 "$T/pred2.csv")"; fi

"$D" evaluate --model "$T/full.safetensors" --data data/banknotes.csv >"$T/eval.txt" 2>&1
if grep -q '^1372 rows - loss: [0-9.]* - accuracy: 0\.[89]' "$T/eval.txt"; then pass model_evaluate
else fail model_evaluate "$(cat "$T/eval.txt")"; fi

# ---- resume: 3 epochs, then 3 more, equals 6 straight (same seed, dropout, shuffling)
"$D" train $COMMON --epochs 3 --save "$T/half.safetensors" >/dev/null 2>&1
"$D" train --resume "$T/half.safetensors" --epochs 6 --save "$T/resumed.safetensors" --quiet >"$T/res.txt" 2>&1
"$D" predict --model "$T/resumed.safetensors" --data data/banknotes.csv --proba --out "$T/pred3.csv" 2>/dev/null
if cmp -s "$T/pred.csv" "$T/pred3.csv" && "$D" inspect "$T/resumed.safetensors" | grep -q 'epochs trained: 6'; then
    pass model_resume_equals_uninterrupted
else fail model_resume_equals_uninterrupted "$(cat "$T/res.txt"; diff "$T/pred.csv" "$T/pred3.csv" | head -3)"; fi

# nothing left to train is a user error
"$D" train --resume "$T/full.safetensors" --epochs 6 --quiet >/dev/null 2>"$T/err.txt"
rc=$?
if [ "$rc" -eq 2 ] && grep -q -- '--epochs' "$T/err.txt"; then pass model_resume_nothing_to_do
else fail model_resume_nothing_to_do "exit $rc: $(cat "$T/err.txt")"; fi

# ---- checkpoints: every epoch, or the best one by val_loss
"$D" train $COMMON --epochs 5 --checkpoint "$T/ck.safetensors" >/dev/null 2>&1
if "$D" inspect "$T/ck.safetensors" 2>/dev/null | grep -q 'epochs trained: 5'; then pass model_checkpoint
else fail model_checkpoint "$("$D" inspect "$T/ck.safetensors" 2>&1 | tail -2)"; fi
"$D" train $COMMON --epochs 8 --learning-rate 0.5 --checkpoint "$T/best.safetensors" \
    --save-best-only true --checkpoint-monitor val_loss >"$T/best.txt" 2>&1
if [ -s "$T/best.safetensors" ] && [ -z "$(ls "$T" | grep 'best.safetensors\.')" ]; then
    pass model_checkpoint_best_only
else fail model_checkpoint_best_only "$(cat "$T/best.txt")"; fi

# ---- errors: exit 2, a message naming the file, nothing written
head -c 100 "$T/full.safetensors" >"$T/cut.safetensors"
"$D" predict --model "$T/cut.safetensors" --data data/banknotes.csv --out "$T/never.csv" 2>"$T/err.txt"
rc=$?
if [ "$rc" -eq 2 ] && grep -q 'cut.safetensors' "$T/err.txt" && [ ! -e "$T/never.csv" ]; then
    pass model_err_truncated
else fail model_err_truncated "exit $rc: $(cat "$T/err.txt")"; fi
cut -d, -f1-3 data/banknotes.csv >"$T/three.csv"
"$D" predict --model "$T/full.safetensors" --data "$T/three.csv" --out "$T/never.csv" 2>"$T/err.txt"
rc=$?
if [ "$rc" -eq 2 ] && grep -q 'entropy' "$T/err.txt" && [ ! -e "$T/never.csv" ]; then
    pass model_err_missing_feature
else fail model_err_missing_feature "exit $rc: $(cat "$T/err.txt")"; fi
"$D" evaluate --model "$T/full.safetensors" --data "$T/features.csv" 2>"$T/err.txt"
rc=$?
if [ "$rc" -eq 2 ] && grep -q "class" "$T/err.txt"; then pass model_err_evaluate_without_target
else fail model_err_evaluate_without_target "exit $rc: $(cat "$T/err.txt")"; fi
"$D" predict --model "$T/nothere.safetensors" --data data/banknotes.csv 2>"$T/err.txt"
rc=$?
if [ "$rc" -eq 2 ] && grep -q 'nothere' "$T/err.txt"; then pass model_err_missing_file
else fail model_err_missing_file "exit $rc: $(cat "$T/err.txt")"; fi
"$D" sweep --data data/banknotes.csv --save "$T/x.safetensors" --out "$T/never" --quiet 2>"$T/err.txt"
rc=$?
if [ "$rc" -eq 2 ] && grep -q 'descent train' "$T/err.txt" && [ ! -e "$T/never" ]; then
    pass model_err_save_in_sweep
else fail model_err_save_in_sweep "exit $rc: $(cat "$T/err.txt")"; fi
# a file that cannot be written is refused before any training
"$D" train $COMMON --epochs 3 --save "$T/nodir/m.safetensors" >"$T/out.txt" 2>"$T/err.txt"
rc=$?
if [ "$rc" -eq 2 ] && grep -q -- '--save' "$T/err.txt" && ! grep -q 'Epoch' "$T/out.txt"; then
    pass model_err_save_folder_checked_first
else fail model_err_save_folder_checked_first "exit $rc: $(cat "$T/err.txt")"; fi
exit 0
