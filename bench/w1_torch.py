#!/usr/bin/python3
"""W1 in PyTorch, written the way a course user would: the banknote initializer sweep
(logistic regression, binary cross-entropy, RMSprop(lr=0.001), batch 16, 5 epochs,
initializers zeros/uniform/normal/he_normal/lecun_uniform, 30 repeats each), one
thread, manual mini-batch slicing. Keras's formulas where PyTorch differs: RMSprop with
rho 0.9 and epsilon 1e-7 outside the square root (tf.keras 2.x without momentum is
exactly torch's form), Keras's truncated he_normal, and the Keras uniform/normal ranges, and descent's train/test split (its random streams
re-implemented in tests/ref/rng_ref.py).
Prints one line per initializer: name, mean test accuracy, std.
Usage: w1_torch.py [data/banknotes.csv]"""
import csv
import math
import sys

import os

import torch

# descent's split, reproduced with the independent implementation of its random streams
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "ref"))
from rng_ref import Rng  # noqa: E402

torch.set_num_threads(1)
path = sys.argv[1] if len(sys.argv) > 1 else "data/banknotes.csv"
rows = list(csv.reader(open(path)))[1:]
X = torch.tensor([[float(v) for v in r[:4]] for r in rows])
y = torch.tensor([[float(r[4])] for r in rows])
# the course scales all rows, then splits 70/30
X = (X - X.mean(0)) / X.std(0, unbiased=False)
# train_test_split as descent does it: split_seed 42, stream DS_STREAM_USER + 1 = 17
perm = torch.tensor(Rng.split(42, 17).permutation(len(X)))
n_test = math.ceil(0.3 * len(X))
Xte, yte, Xtr, ytr = X[perm[:n_test]], y[perm[:n_test]], X[perm[n_test:]], y[perm[n_test:]]


def init(w, name):
    fan_in, fan_out = w.shape[1], w.shape[0]
    with torch.no_grad():
        if name == "zeros":
            w.zero_()
        elif name == "uniform":
            w.uniform_(-0.05, 0.05)
        elif name == "normal":
            w.normal_(0.0, 0.05)
        elif name == "he_normal":
            sd = math.sqrt(2.0 / fan_in) / 0.87962566103423978
            torch.nn.init.trunc_normal_(w, 0.0, sd, -2 * sd, 2 * sd)
        elif name == "lecun_uniform":
            lim = math.sqrt(3.0 / fan_in)
            w.uniform_(-lim, lim)


for name in ["zeros", "uniform", "normal", "he_normal", "lecun_uniform"]:
    accs = []
    for rep in range(30):
        torch.manual_seed(rep)
        model = torch.nn.Linear(4, 1)
        init(model.weight, name)
        torch.nn.init.zeros_(model.bias)
        opt = torch.optim.RMSprop(model.parameters(), lr=0.001, alpha=0.9, eps=1e-7)
        loss_fn = torch.nn.BCEWithLogitsLoss()
        for epoch in range(5):
            p = torch.randperm(len(Xtr))
            for i in range(0, len(Xtr), 16):
                idx = p[i:i + 16]
                opt.zero_grad()
                loss = loss_fn(model(Xtr[idx]), ytr[idx])
                loss.backward()
                opt.step()
        with torch.no_grad():
            acc = ((model(Xte) > 0).float() == yte).float().mean().item()
        accs.append(acc)
    m = sum(accs) / len(accs)
    sd = math.sqrt(sum((a - m) ** 2 for a in accs) / (len(accs) - 1))
    print("%s %.4f %.4f" % (name, m, sd))
