#!/usr/bin/python3
"""Times scipy.optimize.linear_sum_assignment on .npy matrices and prints one JSON object.

usage: /usr/bin/python3 bench/lsa_scipy.py [--repeats N] [--minimize] FILE.npy...

Each matrix is solved N times (default 1) with maximize=True unless --minimize; the JSON lists,
per file, the median and all times in seconds and the optimal objective. On a missing module the
JSON holds {"error": ...} and the exit status is 2, so the caller can say why it skipped.
"""
import json
import statistics
import sys
import time


def main(argv):
    repeats = 1
    maximize = True
    files = []
    i = 0
    while i < len(argv):
        a = argv[i]
        if a == "--repeats":
            repeats = max(1, int(argv[i + 1]))
            i += 2
            continue
        if a == "--minimize":
            maximize = False
        else:
            files.append(a)
        i += 1
    try:
        import numpy as np
        import scipy
        from scipy.optimize import linear_sum_assignment
    except ImportError as e:  # report, do not crash: the caller prints the reason
        print(json.dumps({"error": f"cannot import numpy/scipy: {e}"}))
        return 2
    results = []
    for f in files:
        a = np.load(f)
        times = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            rows, cols = linear_sum_assignment(a, maximize=maximize)
            times.append(time.perf_counter() - t0)
        results.append(
            {
                "file": f,
                "shape": list(a.shape),
                "seconds": statistics.median(times),
                "times": times,
                "objective": float(a[rows, cols].sum()),
            }
        )
    print(json.dumps({"scipy": scipy.__version__, "numpy": np.__version__, "results": results}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
