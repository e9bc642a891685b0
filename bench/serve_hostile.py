"""Resident memory of a real ``defectops serve`` before and after the hostile-request corpus.

    .venv/bin/python bench/serve_hostile.py

The corpus and the service are those of ``tests/integration/serving/test_serving_hostile.py``
(which asserts growth
under 50 MB); this prints the figures: requests sent, the statuses answered, RSS before and
after (after 30 ordinary requests have warmed the process up).
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

import test_serving_hostile as hostile

from dashboard_fixtures import build_tree, uvicorn_service


def main() -> None:
    root = Path(tempfile.mkdtemp(prefix="defectops-hostile-"))
    try:
        tree = build_tree(root)
        log = root / "service.log"
        with uvicorn_service(tree.artifacts, log, token=hostile.TOKEN, env=hostile.LIMITS) as s:
            hostile.wait_for(lambda: httpx.get(f"{s.base}/ready").status_code == 200)
            record = hostile.holdout_records(tree, 1)[0]
            with httpx.Client(base_url=s.base, timeout=60) as client:
                for _ in range(30):
                    client.post("/predict", json=record)
                before = hostile.rss(s.pid)
                codes = [
                    client.request(method, path, headers=headers, content=body).status_code
                    for _ in range(4)
                    for method, path, headers, body in hostile.hostile_cases(record)
                ]
                after = hostile.rss(s.pid)
        print(f"{len(codes)} hostile requests, statuses {sorted(set(codes))}")
        print(f"RSS {before / 2**20:.0f} MB before, {after / 2**20:.0f} MB after")
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
