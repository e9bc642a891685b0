"""Write the malformed-file corpus beside this script: ``python tests/data/bad/make_corpus.py``.

Every file is one way a plant export arrives broken. Each must be refused by ``validate``,
``run``, ``predict`` and ``ingest`` with exit code 2 and one line, and leave a project as it was
(``tests/integration/training/test_bad_corpus.py``). The rows are the simulator's demo line, so a
file fails only for
the reason its name gives. The files are committed; this script says how each was made.
"""

from __future__ import annotations

import gzip
import io
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from defectops.data.simulate import SimulationSpec, simulate

HERE = Path(__file__).resolve().parent


def base(rows: int = 40) -> pd.DataFrame:
    frame, _ = simulate(SimulationSpec(rows=rows, seed=1))
    return frame


def csv_bytes(frame: pd.DataFrame) -> bytes:
    return frame.to_csv(index=False).encode()


def parquet_bytes(frame: pd.DataFrame) -> bytes:
    buffer = io.BytesIO()
    frame.to_parquet(buffer, index=False)
    return buffer.getvalue()


def files() -> dict[str, bytes]:
    frame = base()
    good = csv_bytes(frame)
    lines = good.decode().splitlines(keepends=True)
    header = lines[0]
    rng = np.random.default_rng(7)
    out: dict[str, bytes] = {
        "empty.csv": b"",
        "blank_lines.csv": b"\n\n\n",
        "header_only.csv": header.encode(),
        "random_bytes.csv": rng.bytes(600),
        "png_image.csv": b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 2,
        "latin1.csv": (header + lines[1].replace(",A,", ",Schicht B°,")).encode("latin-1"),
        "utf16_without_bom.csv": good.decode().encode("utf-16-le"),
        "utf32.csv": good.decode().encode("utf-32"),
        "nul_byte.csv": (header + lines[1] + "1,2\x00,3\n" + "".join(lines[2:])).encode(),
        "duplicate_header.csv": (
            header.replace("machine_id", "shift") + "".join(lines[1:])
        ).encode(),
        "ragged_row.csv": (
            header + lines[1] + lines[2].rstrip("\n") + ",1,2,3\n" + "".join(lines[3:])
        ).encode(),
        "unclosed_quote.csv": (header + '"' + "".join(lines[1:])).encode(),
        "parquet_named_csv.csv": parquet_bytes(frame),
        "csv_named_parquet.parquet": good,
        "truncated.parquet": parquet_bytes(frame)[:900],
        "truncated.csv.gz": gzip.compress(good)[:300],
        "html_error_page.csv": b"<html><body><h1>502 Bad Gateway</h1></body></html>\n",
        "json_export.csv": frame.head(3).to_json(orient="records", date_format="iso").encode(),
        "other_columns.csv": csv_bytes(frame[["timestamp", "machine_id", "shift"]]),
        "spreadsheet.xlsx": b"PK\x03\x04" + rng.bytes(200),
        "zero_rows.parquet": parquet_bytes(frame.iloc[:0]),
    }
    every_row_infinite = frame.copy()
    every_row_infinite["QualityScore"] = np.inf
    out["every_row_infinite.csv"] = csv_bytes(every_row_infinite)
    every_row_huge = frame.copy()
    every_row_huge["ProductionCost"] = 1e300
    out["every_row_beyond_float32.csv"] = csv_bytes(every_row_huge)
    nested = pa.Table.from_pandas(frame, preserve_index=False)
    column = nested.schema.get_field_index("SupplierQuality")
    structs = pa.array([{"value": float(v), "unit": "%"} for v in frame["SupplierQuality"]])
    nested = nested.set_column(column, "SupplierQuality", structs)
    buffer = io.BytesIO()
    pq.write_table(nested, buffer)
    out["nested_column.parquet"] = buffer.getvalue()
    return out


def main() -> None:
    for path in HERE.iterdir():
        if path.name != Path(__file__).name:
            shutil.rmtree(path) if path.is_dir() else path.unlink()
    for name, content in files().items():
        (HERE / name).write_bytes(content)
    empty_dir = HERE / "no_parquet_inside"
    empty_dir.mkdir()
    (empty_dir / "README.txt").write_text("a data directory without a single .parquet file\n")


if __name__ == "__main__":
    main()
