#!/usr/bin/python3
"""A small real training run for `joulecast track --predict`: a CNN trained with Adam on the real
Fashion-MNIST from Debian's dataset-fashion-mnist, for the steps its architecture's "training"
object says (samples / batch steps per epoch, epochs), on one CPU thread.

Usage: fashion_mnist_train.py ARCH.json   (the architecture track_cli_test writes)
Prints one line: the steps trained and the last loss.
"""

import gzip
import json
import sys

import numpy as np
import torch

DATA = "/usr/share/datasets/fashion-mnist"


def read_idx(name, offset):
    with gzip.open(f"{DATA}/{name}", "rb") as f:
        return np.frombuffer(f.read(), dtype=np.uint8, offset=offset)


def main():
    arch = json.load(open(sys.argv[1]))
    t = arch["training"]
    batch, samples, epochs = t["batch"], t["samples"], t["epochs"]
    torch.set_num_threads(1)
    torch.manual_seed(1)
    images = read_idx("train-images-idx3-ubyte.gz", 16)[: samples * 784].reshape(-1, 1, 28, 28)
    labels = read_idx("train-labels-idx1-ubyte.gz", 8)[:samples]
    x = torch.from_numpy(images.astype(np.float32) / 255.0)
    y = torch.from_numpy(labels.astype(np.int64))
    # The network of the architecture file: conv 8 3x3 pad 1, relu, maxpool 2, flatten, linear 10.
    model = torch.nn.Sequential(torch.nn.Conv2d(1, 8, 3, padding=1), torch.nn.ReLU(),
                                torch.nn.MaxPool2d(2), torch.nn.Flatten(),
                                torch.nn.Linear(8 * 14 * 14, 10))
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    steps, loss = 0, None
    for _ in range(epochs):
        for i in range(0, samples, batch):
            opt.zero_grad()
            loss = torch.nn.functional.cross_entropy(model(x[i:i + batch]), y[i:i + batch])
            loss.backward()
            opt.step()
            steps += 1
    print(f"trained {steps} steps, last loss {loss.item():.4f}")


if __name__ == "__main__":
    main()
