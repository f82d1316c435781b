"""What the secret-masking policy (tracker._mask) costs per captured console line.

Console capture masks every kept line on its batching thread (never on the training thread);
``log()`` of metrics never calls the masker. Prints the time per line for typical training output,
for lines that hold secrets, and for the 64 KB worst case, next to the unmasked baseline (a
plain function call returning the line).

    python bench/mask_cost.py
"""

from __future__ import annotations

import time

from tracker._mask import mask_text

LINES = {
    "plain (no = or :)": "Epoch 3 step 1200 loss 0.2345 acc 0.9123 lr 3e-4 (41.2 it/s)",
    "tqdm bar": "Epoch 3/10:  45%|████▌     | 4500/10000 [01:23<01:42, 53.91it/s, loss=0.234, acc=0.91]",
    "key=value metrics": "step=1200 loss=0.2345 val_loss=0.2512 max_tokens=512 grad_norm=1.23 lr=3e-4",
    "log with time": "2026-12-02 15:10:38,123 INFO trainer: saved checkpoint to /data/ckpt/step_1200.pt",
    "secret: url + token": "connecting to postgres://u:hunter2@db:5432/x with OPENAI_API_KEY=sk-proj-Abcdefghijklmnop123",
    "secret: bearer": "curl -H 'Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.abcdef' https://api/x",
    "64 KB line": ("loss=0.25 acc=0.5 " * 3700)[:65536],
}


def per_call(fn, line: str, n: int) -> float:
    t0 = time.perf_counter()
    for _ in range(n):
        fn(line)
    return (time.perf_counter() - t0) / n


def same(x: str) -> str:
    return x


def main() -> None:
    mask_text("warm up: compile the patterns once")
    print(f"{'line':<22} {'chars':>6} {'masked µs':>10} {'baseline µs':>12}")
    for name, line in LINES.items():
        n = 200 if len(line) > 10_000 else 50_000
        best = min(per_call(mask_text, line, n) for _ in range(3))
        base = min(per_call(same, line, n) for _ in range(3))
        print(f"{name:<22} {len(line):>6} {best * 1e6:>10.2f} {base * 1e6:>12.3f}")
    lines = list(LINES.values())[:4] * 2500
    t0 = time.perf_counter()
    for x in lines:
        mask_text(x)
    took = time.perf_counter() - t0
    print(f"10,000 typical lines: {took * 1e3:.1f} ms ({len(lines) / took:,.0f} lines/s on one thread)")


if __name__ == "__main__":
    main()
