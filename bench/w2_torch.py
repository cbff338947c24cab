#!/usr/bin/python3
"""W2 in PyTorch: Fashion-MNIST, 784-256-128-10 relu/softmax, sparse categorical cross-
entropy, SGD(lr=0.01, momentum=0.9) (Keras's momentum folds the learning rate into the
velocity; with a constant rate it is the same as torch's), batch 64, shuffled, 3 epochs.
Prints "epoch N seconds S" per epoch, then "test_accuracy A".
Usage: w2_torch.py THREADS [folder of the IDX files]"""
import gzip
import struct
import sys
import time

import numpy as np
import torch

threads = int(sys.argv[1]) if len(sys.argv) > 1 else 1
folder = sys.argv[2] if len(sys.argv) > 2 else "/usr/share/datasets/fashion-mnist"
torch.set_num_threads(threads)


def idx(name):
    with gzip.open(folder + "/" + name) as f:
        data = f.read()
    magic, n = struct.unpack(">II", data[:8])
    if magic == 0x803:
        return np.frombuffer(data, np.uint8, offset=16).reshape(n, 784).astype(np.float32) / 255
    return np.frombuffer(data, np.uint8, offset=8).astype(np.int64)


Xtr = torch.from_numpy(idx("train-images-idx3-ubyte.gz"))
ytr = torch.from_numpy(idx("train-labels-idx1-ubyte.gz"))
Xte = torch.from_numpy(idx("t10k-images-idx3-ubyte.gz"))
yte = torch.from_numpy(idx("t10k-labels-idx1-ubyte.gz"))
torch.manual_seed(1)
model = torch.nn.Sequential(torch.nn.Linear(784, 256), torch.nn.ReLU(), torch.nn.Linear(256, 128),
                            torch.nn.ReLU(), torch.nn.Linear(128, 10))
opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
loss_fn = torch.nn.CrossEntropyLoss()
for epoch in range(3):
    t0 = time.perf_counter()
    p = torch.randperm(len(Xtr))
    for i in range(0, len(Xtr), 64):
        b = p[i:i + 64]
        opt.zero_grad()
        loss_fn(model(Xtr[b]), ytr[b]).backward()
        opt.step()
    print("epoch %d seconds %.4f" % (epoch + 1, time.perf_counter() - t0), flush=True)
with torch.no_grad():
    acc = (model(Xte).argmax(1) == yte).float().mean().item()
print("test_accuracy %.4f" % acc)
