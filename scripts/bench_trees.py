"""Side-by-side reference for internal/trees' benchmarks: scikit-learn's
HistGradientBoostingClassifier (the same histogram, leaf-wise design) on a
table drawn like BenchmarkTrain's (a logistic model on the first five of d
standard-normal features, 5% missing in two), with the same settings: 31
leaves, 255 bins, learning rate 0.1, min 20 rows per leaf, no L2, no early
stopping. Run it next to the Go benchmark, on the same cores:

  OMP_NUM_THREADS=2 /usr/bin/python3 scripts/bench_trees.py
  go test -run '^$' -bench 'BenchmarkTrain$|BenchmarkPredictRow' -benchtime 3x ./internal/trees/

It prints seconds per training and rows/s; numbers are not asserted anywhere.
"""
import sys
import time

import numpy as np
from sklearn.ensemble import HistGradientBoostingClassifier


def table(n, d, seed):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, d))
    z = x[:, 0] - 0.5 * x[:, 1] + 0.8 * x[:, 2] * x[:, 3] + 0.3 * x[:, 4]
    y = (rng.random(n) < 1 / (1 + np.exp(-z))).astype(np.int32)
    for j in (1, d - 1):
        x[rng.random(n) < 0.05, j] = np.nan
    return x, y


def model(iterations):
    return HistGradientBoostingClassifier(max_iter=iterations, learning_rate=0.1, max_leaf_nodes=31, min_samples_leaf=20,
                                          l2_regularization=0.0, max_bins=255, early_stopping=False)


def main():
    repeats = int(sys.argv[1]) if len(sys.argv) > 1 else 3
    for name, n, d, iterations in (("891", 891, 10, 100), ("1M", 1_000_000, 30, 10)):
        x, y = table(n, d, n)
        times = []
        for _ in range(repeats):
            m = model(iterations)
            t = time.perf_counter()
            m.fit(x, y)
            times.append(time.perf_counter() - t)
        best = min(times)
        print(f"sklearn Train/{name}: {best * 1e3:.1f} ms per training (best of {repeats}; all {[round(s * 1e3, 1) for s in times]}), "
              f"{n / best:,.0f} rows/s")
    x, y = table(5000, 10, 5000)
    m = model(100).fit(x, y)
    row = x[:1]
    for _ in range(50):
        m.predict_proba(row)
    k = 2000
    t = time.perf_counter()
    for i in range(k):
        m.predict_proba(x[i % 5000: i % 5000 + 1])
    print(f"sklearn PredictRow: {(time.perf_counter() - t) / k * 1e6:.1f} us per row (predict_proba on one row)")


if __name__ == "__main__":
    main()
