"""CPU per API request, in this process, for each performance mechanism of the lists and the board
taken out in turn (HUB_PLAIN_PATHS, hub/plain_paths.py): less at the mercy of a loaded machine than
api_pages.py's latencies under 16 clients. Pages are built (HUB_CACHED_ANSWERS=0) or served from
what the worker kept; the variants alternate, `--rounds` times. Writes bench/results/api_cpu.json.

    .venv/bin/python bench/api_cpu.py [--customers 20000] [--deals 100000] [--requests 200] [--rounds 3]
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import tempfile
import time
from pathlib import Path

from api_pages import generate
from harness import RedisServer, scratch_database, write_results

# (kept answers per kind, plain paths)
VARIANTS = {
    "kept, token cache": (512, ""),
    "kept, no token cache": (512, "tokens"),
    "built": (0, ""),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--customers", type=int, default=20_000)
    parser.add_argument("--deals", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=200, help="per variant, page and round")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="api-cpu-") as workdir, scratch_database() as url:
        os.environ["HUB_INSTANCE_PATH"] = workdir
        token, pipeline_id = generate(url, args.customers, args.deals)
        redis = RedisServer(Path(workdir)).start()
        try:
            from hub import create_app
            from hub.extensions import db

            app = create_app({"DATABASE_URL": url, "REDIS_URL": redis.url, "SECRET_KEY": "bench"})
            client = app.test_client()
            headers = {"Authorization": f"Bearer {token}"}
            paths = {
                "customers": lambda p: f"/api/v1/customers?page={p}",
                "deals": lambda p: f"/api/v1/deals?page={p}",
                "board": lambda p: f"/api/v1/pipelines/{pipeline_id}/board?per_column=20",
            }
            cpu: dict[str, dict[str, list[float]]] = {v: {k: [] for k in paths} for v in VARIANTS}
            rnd = random.Random(7)
            for r in range(args.rounds):
                for variant, (kept, plain_paths) in VARIANTS.items():
                    os.environ["HUB_PLAIN_PATHS"] = plain_paths
                    app.config["HUB_CACHED_ANSWERS"] = kept
                    for name, path in paths.items():
                        pages = [rnd.randrange(1, 201) for _ in range(args.requests)]
                        if kept:
                            for p in set(pages):  # what the worker keeps once it has built each page
                                assert client.get(path(p), headers=headers).status_code == 200
                        started = time.process_time()
                        for p in pages:
                            assert client.get(path(p), headers=headers).status_code == 200
                        cpu[variant][name].append((time.process_time() - started) / len(pages) * 1000)
                    shown = ", ".join(f"{n} {v[-1]:.2f}" for n, v in cpu[variant].items())
                    print(f"  round {r + 1}, {variant}: ms CPU per request: {shown}", flush=True)
            os.environ.pop("HUB_PLAIN_PATHS", None)
            with app.app_context():
                db.engine.dispose()
        finally:
            redis.stop()
    print(f"ms of this process's CPU per request, median of {args.rounds} rounds:")
    summary = {v: {n: statistics.median(t) for n, t in by.items()} for v, by in cpu.items()}
    for variant, by in summary.items():
        print(f"  {variant:32} " + "  ".join(f"{n} {t:6.2f}" for n, t in by.items()))
    print(f"  → {write_results('api_cpu', {'customers': args.customers, 'deals': args.deals, **summary})}")


if __name__ == "__main__":
    main()
