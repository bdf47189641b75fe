"""The trainer's sample order in Python (src/train/plan.cpp): a Fisher-Yates shuffle over
splitmix64 per epoch, seeded by (seed * 1000003 + epoch); step s takes the next global batch.
Shared by the training oracle (tests/oracle/check_train.py) and the anchor of bench/bench_train.py."""

MASK64 = (1 << 64) - 1


def permutation(n, seed):
    """src/train/plan.cpp's seeded_permutation."""
    order = list(range(n))
    state = seed & MASK64
    for i in range(n - 1, 0, -1):
        state = (state + 0x9E3779B97F4A7C15) & MASK64
        z = state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK64
        z ^= z >> 31
        j = z % (i + 1)
        order[i], order[j] = order[j], order[i]
    return order


def batch_of(step, samples, global_batch, seed):
    """The sample indices of optimizer step `step` (0-based), in permutation order."""
    per_epoch = samples // global_batch
    epoch, first = divmod(step, per_epoch)
    order = permutation(samples, (seed * 1000003 + epoch) & MASK64)
    return order[first * global_batch:(first + 1) * global_batch]
