"""AI4I 2020 written the way a plant's export writes it, to show what the data contract does.

    .venv/bin/python bench/messy_export.py OUT.csv [--ai4i ../shared/data/ai4i2020.csv]

The same 10,000 rows as ``ai4i2020.csv``, but: ``;``-separated with decimal commas, a
day-first timestamp (a row every 20 minutes from 1 March 2024), every 7th torque reading written
``?``, labels written ``yes``/``no``, the header in UTF-8 with a byte-order mark, and the
file gzip-compressed. Then run ``defectops validate --data OUT.csv --target "Machine failure"``:
the README's "Using it on your data" shows the output.
"""

from __future__ import annotations

import argparse
import gzip
from pathlib import Path

import numpy as np
import pandas as pd

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "ai4i2020.csv"


def messy(frame: pd.DataFrame) -> pd.DataFrame:
    out = frame.copy()
    stamps = pd.Timestamp("2024-03-01 06:00") + pd.to_timedelta(
        np.arange(len(out)) * 20, unit="min"
    )
    out.insert(0, "Zeitstempel", stamps.strftime("%d/%m/%Y %H:%M"))
    torque = out["Torque [Nm]"].map(lambda v: f"{v:.1f}".replace(".", ","))
    out["Torque [Nm]"] = torque.where(np.arange(len(out)) % 7 != 3, "?")
    out["Machine failure"] = np.where(out["Machine failure"] == 1, "yes", "no")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--ai4i", type=Path, default=DATA)
    args = parser.parse_args()
    text = messy(pd.read_csv(args.ai4i)).to_csv(index=False, sep=";", decimal=",")
    args.out.write_bytes(gzip.compress(("\ufeff" + text).encode("utf-8")))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
