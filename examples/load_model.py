#!/usr/bin/env python3
"""load_model.py - predictions from a descent model file with nothing but the standard
library and NumPy: an independent reader of the format in docs/FORMAT.md.

usage: load_model.py MODEL.safetensors DATA.csv

DATA.csv holds one row per example. When the model file has a "preprocessing" entry (the
descent command writes one), the rows are raw values: the columns named in its
feature_names are picked by the CSV's header (other columns, such as the target, are
ignored) and scaled as x' = (x - shift) / scale. Otherwise the rows are the model's input
features, already preprocessed, in order; a header line is skipped.

Prints CSV: a header "output_0,...", then one line per row with every output (%.9g). When
the preprocessing entry names the classes (label_names), a last column "label" holds the
predicted class: output > 0.5 for one output, the largest output otherwise.

Arithmetic is float32 as in descent (float64 only for the scaling, as the command does),
so predictions agree with ds_model_predict to float32 rounding. Dropout layers are the
identity at inference.
"""
import csv
import json
import math
import struct
import sys

import numpy as np

F32 = np.float32


def read_model(path):
    """Returns (metadata dict of strings, tensors dict of float32 arrays)."""
    with open(path, "rb") as f:
        blob = f.read()
    if len(blob) < 8:
        raise ValueError(f"{path}: too short for a safetensors file")
    (n,) = struct.unpack("<Q", blob[:8])
    if n > len(blob) - 8:
        raise ValueError(f"{path}: header length {n} runs past the end of the file")
    header = json.loads(blob[8 : 8 + n])
    meta = header.pop("__metadata__", {})
    data = memoryview(blob)[8 + n :]
    tensors = {}
    for name, t in header.items():
        if t["dtype"] != "F32":
            raise ValueError(f"{path}: tensor {name}: dtype {t['dtype']}, expected F32")
        begin, end = t["data_offsets"]
        tensors[name] = np.frombuffer(data[begin:end], dtype="<f4").astype(F32).reshape(
            t["shape"]
        )
    if meta.get("format") != "descent-model":
        raise ValueError(f"{path}: not a descent model file")
    if int(meta.get("format_version", "0")) > 1:
        raise ValueError(f"{path}: made by a newer descent (format version "
                         f"{meta['format_version']} > 1)")
    return meta, tensors


# ---- activations: descent's formulas (src/act.c), elementwise in float32 ----


def sigmoid(z):
    e = np.exp(-np.abs(z))  # by the sign of z, so exp never overflows
    return np.where(z >= 0, F32(1) / (F32(1) + e), e / (F32(1) + e)).astype(F32)


def softmax(z):
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return (e / e.sum(axis=1, keepdims=True, dtype=np.float64).astype(F32)).astype(F32)


SELU_ALPHA = 1.6732632423543772848170429916717
SELU_SCALE = 1.0507009873554804934193349852946
erf = np.vectorize(math.erf, otypes=[np.float64])


def parse_activation(spec):
    """"leaky_relu(alpha=0.1)" -> ("leaky_relu", {"alpha": 0.1})"""
    name, _, rest = spec.partition("(")
    args = {}
    for part in rest.rstrip(")").split(","):
        if "=" in part:
            k, v = part.split("=", 1)
            args[k.strip()] = float(v)
        elif part.strip():
            args["alpha"] = float(part)
    return name.strip(), args


def activate(spec, z, keras_version):
    name, args = parse_activation(spec)
    zero, one = F32(0), F32(1)
    if name == "linear":
        return z
    if name == "sigmoid":
        return sigmoid(z)
    if name == "tanh":
        return np.tanh(z)
    if name == "relu":
        return np.maximum(z, zero)
    if name == "leaky_relu":
        return np.where(z > 0, z, F32(args.get("alpha", 0.3)) * z)
    if name == "elu":
        return np.where(z > 0, z, F32(args.get("alpha", 1.0)) * np.expm1(z))
    if name == "selu":
        return F32(SELU_SCALE) * np.where(z > 0, z, F32(SELU_ALPHA) * np.expm1(z))
    if name == "softplus":
        return np.maximum(z, zero) + np.log1p(np.exp(-np.abs(z)))
    if name == "softsign":
        return z / (one + np.abs(z))
    if name == "hard_sigmoid":
        # tf.keras 2.x: clip(0.2 x + 0.5, 0, 1); Keras 3: clip(x / 6 + 0.5, 0, 1)
        slope = F32(1) / F32(6) if keras_version == 3 else F32(0.2)
        return np.clip(slope * z + F32(0.5), zero, one)
    if name == "swish":
        return z * sigmoid(z)
    if name == "gelu":  # exact form: 0.5 x (1 + erf(x / sqrt 2))
        return (F32(0.5) * z * (one + erf(z * F32(0.70710678118654752)).astype(F32))).astype(F32)
    if name == "softmax":
        return softmax(z)
    raise ValueError(f"unknown activation {spec!r}")


def predict(meta, tensors, x):
    arch = json.loads(meta["architecture"])
    kv = arch["keras_version"]
    a = x.astype(F32)
    for k, layer in enumerate(arch["layers"]):
        if layer["kind"] == "dropout":
            continue  # the identity at inference
        z = a @ tensors[f"layers.{k}.kernel"]
        if layer["use_bias"]:
            z = z + tensors[f"layers.{k}.bias"]
        with np.errstate(over="ignore"):
            a = activate(layer["activation"], z.astype(F32), kv).astype(F32)
    return a


def is_number(s):
    try:
        float(s)
        return True
    except ValueError:
        return False


def read_inputs(path, meta, n_inputs):
    with open(path, newline="") as f:
        rows = [r for r in csv.reader(f) if r]
    prep = json.loads(meta["preprocessing"]) if "preprocessing" in meta else None
    if prep is None:
        if rows and not all(is_number(c) for c in rows[0]):
            rows = rows[1:]  # a header
        x = np.array([[float(c) for c in r] for r in rows], dtype=F32).reshape(len(rows), -1)
        if x.shape[1] != n_inputs:
            raise ValueError(f"{path}: {x.shape[1]} columns, the model takes {n_inputs}")
        return x, None
    names = prep["feature_names"]
    if rows and all(n in rows[0] for n in names):
        cols = [rows[0].index(n) for n in names]
        rows = rows[1:]
    elif rows and len(rows[0]) == len(names):
        cols = list(range(len(names)))  # no header: the features in order
        if not all(is_number(c) for c in rows[0]):
            rows = rows[1:]
    else:
        raise ValueError(f"{path}: the header lacks some of the features {names}")
    raw = np.array([[float(r[c]) for c in cols] for r in rows], dtype=np.float64)
    shift = np.array(prep.get("shift", [0.0] * len(names)), dtype=np.float64)
    scale = np.array(prep.get("scale", [1.0] * len(names)), dtype=np.float64)
    return ((raw - shift) / scale).astype(F32), prep


def main(argv):
    if len(argv) != 3:
        print(__doc__.split("\n\n")[1], file=sys.stderr)
        return 2
    meta, tensors = read_model(argv[1])
    arch = json.loads(meta["architecture"])
    x, prep = read_inputs(argv[2], meta, arch["n_inputs"])
    y = predict(meta, tensors, x)
    labels = prep.get("label_names") if prep else None
    header = [f"output_{j}" for j in range(y.shape[1])] + (["label"] if labels else [])
    out = [",".join(header)]
    for row in y:
        cells = [format(float(v), ".9g") for v in row]
        if labels:
            i = int(row[0] > 0.5) if len(row) == 1 else int(np.argmax(row))
            cells.append(str(labels[i]))
        out.append(",".join(cells))
    print("\n".join(out))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
