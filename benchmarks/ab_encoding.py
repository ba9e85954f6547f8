"""Encoding speed of two checkouts, interleaved: transform(docs) minus Π·Table.

    PYTHONPATH=. python benchmarks/ab_encoding.py /path/to/old/checkout [--repeats 9]

Each checkout runs in its own process (both import ``sknotes``), on the corpus of
``bench_embedding_bag.py --encoding-only`` (160k documents × 20 Zipf tokens,
vocabulary 50k, the same model); the two processes take turns, run by run, and
each times its own CPU time, so that a shared machine's load falls on both
alike. Printed: medians, the ratio new/old, and whether the two transforms
agree on the first 50 documents.
"""

import argparse
import json
import os
import subprocess
import sys
import time

import numpy as np

ROWS = ("count:int", "count:str", "sublinear:int", "sublinear:str")


def worker():
    sys.path.insert(0, os.getcwd())
    sys.path.insert(0, os.path.join(os.getcwd(), "benchmarks"))
    import warnings

    warnings.simplefilter("ignore")
    from bench_embedding_bag import as_text, make_corpus, our_model

    n = 160_000
    ids, y = make_corpus(200_000)
    ids, y = ids[:n], y[:n]
    forms = {"int": ids.tolist(), "str": [t.split() for t in as_text(ids)]}
    models = {}
    our_model(1).fit(forms["int"][:512], y[:512])  # numba's kernels load
    print(json.dumps("ready"), flush=True)
    for line in sys.stdin:
        weighting, form = line.split()
        docs = forms[form]
        if (weighting, form) not in models:
            model = our_model(1).set_params(weighting=weighting, linear_path=False)
            model.fit(docs, y)
            models[weighting, form] = model, model._validate_predict_input(docs)
        model, Pi = models[weighting, form]
        start = time.process_time()
        out = model.transform(docs)
        seconds = time.process_time() - start
        start = time.process_time()
        Pi @ model.embeddings_
        product = time.process_time() - start
        print(json.dumps([seconds, product, out[:50].tolist()]), flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("old", help="the other checkout's root")
    parser.add_argument("--repeats", type=int, default=9)
    parser.add_argument("--rows", default=",".join(ROWS), help="e.g. count:int")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        return worker()
    here = os.path.abspath(__file__)
    sides = {"old": args.old, "new": os.getcwd()}
    procs = {
        name: subprocess.Popen(
            [sys.executable, here, ".", "--worker"],
            cwd=root,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for name, root in sides.items()
    }
    for proc in procs.values():
        assert json.loads(proc.stdout.readline()) == "ready"
    tokens = 160_000 * 20
    print(f"load average: {os.getloadavg()[0]:.2f}; CPU time, median of {args.repeats}")
    for row in args.rows.split(","):
        weighting, form = row.split(":")
        runs, outputs = {name: [] for name in procs}, {}
        for r in range(args.repeats + 1):  # run 0: fit and warm-up, not timed
            order = list(procs.items())
            for name, proc in order if r % 2 else order[::-1]:
                proc.stdin.write(f"{weighting} {form}\n")
                proc.stdin.flush()
                seconds, product, outputs[name] = json.loads(proc.stdout.readline())
                if r:
                    runs[name].append((seconds, product))
        encoding = {}
        for name, times in runs.items():
            times = np.array(times)
            encoding[name] = np.median(times[:, 0]) - np.median(times[:, 1])
        same = "identical" if outputs["old"] == outputs["new"] else "DIFFERENT"
        print(
            f"  weighting={weighting!r:11s} {form} token lists: old "
            f"{tokens / encoding['old']:12,.0f} tokens/s "
            f"({1e9 * encoding['old'] / tokens:5.1f} ns/token), new "
            f"{tokens / encoding['new']:12,.0f} ({1e9 * encoding['new'] / tokens:5.1f}"
            f" ns/token): new/old {encoding['old'] / encoding['new']:.2f}×; "
            f"transforms {same}"
        )
    print(f"load average: {os.getloadavg()[0]:.2f}")
    for proc in procs.values():
        proc.stdin.close()
        proc.wait()


if __name__ == "__main__":
    main()
