#!/usr/bin/python3
"""Times the CPU kernel regimes the CPU time model accounts for (docs/calibrate.md), with
Debian's python3-torch, which is the same libtorch that joulecast's calibration loads: one
layer alone, training mode, forward then backward, on one thread, the best of several calls.

1. Channel blocks: oneDNN runs convolution channels in blocks of the vector width (16 floats
   with AVX-512), so 33 channels cost what 48 do.
2. The slow 1x1 path: below batch 16 on one thread, a 1x1 stride-1 convolution runs without
   oneDNN.
3. BatchNorm's backward at 2x2: far slower per element than at 1x1, 3x3 or larger sizes, at
   any batch and channel count.
4. Pooling: a 3x3 window at stride 1 costs more per input than the stride-2 windows the
   calibration times.

Usage: bench/cpu_kernels.py   (prints milliseconds per layer call, forward + backward)
"""

import time

import torch


def train_ms(module, shape, reps=7):
    """Best forward + backward time of `module` on a random input of `shape`, in ms."""
    x = torch.randn(*shape, requires_grad=True)
    g = torch.randn_like(module(x))
    best = float("inf")
    for _ in range(reps):
        x.grad = None
        for p in module.parameters():
            p.grad = None
        t0 = time.perf_counter()
        module(x).backward(g)
        best = min(best, time.perf_counter() - t0)
    return best * 1e3


def pass_ms(module, shape, reps=9):
    """Best forward and best backward time of `module` on a random input of `shape`, in ms."""
    x = torch.randn(*shape, requires_grad=True)
    g = torch.randn_like(module(x))
    fwd = bwd = float("inf")
    for _ in range(reps):
        x.grad = None
        for p in module.parameters():
            p.grad = None
        t0 = time.perf_counter()
        y = module(x)
        t1 = time.perf_counter()
        y.backward(g)
        fwd, bwd = min(fwd, t1 - t0), min(bwd, time.perf_counter() - t1)
    return fwd * 1e3, bwd * 1e3


def main():
    torch.set_num_threads(1)
    torch.manual_seed(1)
    print("1. 3x3 convolution, C to C channels, batch 16 at 28x28 (MACs grow as C^2):")
    for c in (16, 17, 32, 33, 40, 48, 64):
        ms = train_ms(torch.nn.Conv2d(c, c, 3, padding=1), (16, c, 28, 28))
        print("   C = %2d: %6.2f ms, %5.2f us per C^2" % (c, ms, ms * 1e3 / (c * c)))
    print("   input channels below one block (C to 32, batch 32 at 16x16):")
    for c in (1, 3, 8, 16, 17, 32):
        ms = train_ms(torch.nn.Conv2d(c, 32, 3, padding=1), (32, c, 16, 16))
        print("   C = %2d: %6.2f ms" % (c, ms))
    print("2. 1x1 convolution, 64 to 64 channels at 28x28, by batch (time per sample):")
    for b in (8, 15, 16, 32):
        ms = train_ms(torch.nn.Conv2d(64, 64, 1), (b, 64, 28, 28))
        print("   batch %2d: %6.2f ms, %.3f ms per sample" % (b, ms, ms / b))
    print("3. BatchNorm2d, batch 16, by size (time per element):")
    for c, s in ((64, 8), (256, 4), (1024, 2)):
        ms = train_ms(torch.nn.BatchNorm2d(c), (16, c, s, s))
        print("   %4d channels at %dx%d: %6.3f ms, %5.2f ns per element" %
              (c, s, s, ms, ms * 1e6 / (16 * c * s * s)))
    print("   forward and backward apart, batch 16, 256 channels, by size:")
    for s in (1, 2, 3, 4, 8):
        f, b = pass_ms(torch.nn.BatchNorm2d(256), (16, 256, s, s))
        el = 16 * 256 * s * s
        print("   %dx%d: forward %5.2f, backward %5.2f ns per element" % (s, s, f * 1e6 / el, b * 1e6 / el))
    print("   at 2x2, by batch and channels (the same per element: no per-channel overhead):")
    for n, c in ((16, 32), (128, 32), (16, 256), (64, 256), (16, 1024)):
        ms = train_ms(torch.nn.BatchNorm2d(c), (n, c, 2, 2))
        print("   batch %3d, %4d channels: %5.2f ns per element" % (n, c, ms * 1e6 / (n * c * 4)))

    print("4. Pooling by window and stride, batch 32, 32 channels at 16x16 (time per output):")
    for name, m in (("max 2x2 stride 2", torch.nn.MaxPool2d(2, 2)),
                    ("max 3x3 stride 2", torch.nn.MaxPool2d(3, 2, 1)),
                    ("max 3x3 stride 1", torch.nn.MaxPool2d(3, 1, 1)),
                    ("avg 3x3 stride 2", torch.nn.AvgPool2d(3, 2, 1)),
                    ("avg 3x3 stride 1", torch.nn.AvgPool2d(3, 1, 1))):
        shape = (32, 32, 16, 16)
        ms = train_ms(m, shape)
        outputs = m(torch.randn(*shape)).numel()
        print("   %s: %6.3f ms, %5.2f ns per output, %5.2f ns per input" %
              (name, ms, ms * 1e6 / outputs, ms * 1e6 / (32 * 32 * 16 * 16)))


if __name__ == "__main__":
    main()
