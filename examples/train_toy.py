"""Train a small LSTM with the fast path: full BPTT and plain SGD on built-in data.

Task: read a stream of bits and say, at every step, whether a 1 has appeared
so far. The answer depends on the past, so the network has to carry it in its
cell state. The loss is the binary cross-entropy summed over time steps.

    python examples/train_toy.py
"""

import time

import numpy as np

import lstmfast
from lstmfast.training import losses

T, B, H, STEPS, LR = 20, 64, 16, 300, 0.2
rng = np.random.default_rng(0)
lstm = lstmfast.LSTM(1, H, seed=0)
w_y = rng.uniform(-0.25, 0.25, (1, H)).astype(np.float32)
b_y = np.zeros(1, np.float32)


def batch():
    x = (rng.random((T, B, 1)) < 0.1).astype(np.float32)
    return x, (np.cumsum(x, axis=0) > 0).astype(np.float32)


start = time.perf_counter()
for step in range(STEPS + 1):
    x, y = batch()
    a, _, tape = lstm.forward(x)  # forward, keeping the tape
    logits = losses.dense_forward(a, w_y, b_y)  # ŷ<t> = σ(W_y a<t> + b_y)
    loss, dlogits = losses.sigmoid_bce_with_logits(logits, y)  # L = Σ_t BCE(ŷ<t>, y<t>)
    da, dw_y, db_y = losses.dense_backward(a, w_y, dlogits)
    grads = lstm.backward(tape, da)  # BPTT in C++
    for name, p in lstm.parameters().items():
        p -= LR / B * grads[name]
    w_y -= LR / B * dw_y
    b_y -= LR / B * db_y
    if step % 50 == 0:
        accuracy = ((logits > 0) == (y > 0.5)).mean()
        print(f"step {step:4d}  loss per sequence {loss / B:7.3f}  accuracy {accuracy:.3f}")
print(f"{STEPS} training steps in {time.perf_counter() - start:.2f} s on {lstmfast.config.kernel_config()['isa']}")
