"""Compact the small files of every silver, gold and monitor table: `python -m jobs.compact` (weekly is plenty).

Nightly runs merge and append a little each night; this bin-packs tables that reached
`--min-files` data files (Delta OPTIMIZE). Rows are unchanged and time travel keeps working;
the replaced files are removed by VACUUM after the retention period (README, "Tables").
"""

from __future__ import annotations

import sys

from pipelines.core import storage
from pipelines.core.session import build_session
from pipelines.flows.runtime import EXIT_OK, job_parser, run, settings_from_args


def main(args) -> int:
    settings = settings_from_args(args)
    spark = build_session(settings.spark, app_name="zhixing-compact")
    for layer in ("silver", "gold", "monitor"):
        folder = settings.layer_uri(layer)
        tables = [e for e in storage.list_dir(spark, folder) if e.is_dir] if storage.exists(spark, folder) else []
        for entry in tables:
            if not storage.delta_exists(spark, entry.uri):
                continue
            done = storage.compact(spark, entry.uri, args.min_files)
            print(f"{layer}/{entry.name}: " + (f"{done[0]} files -> {done[1]}" if done else "left as it is"))
    return EXIT_OK


def parser():
    p = job_parser(__doc__.splitlines()[0])
    p.add_argument("--min-files", type=int, default=16, help="compact a table with at least this many files")
    return p


if __name__ == "__main__":
    sys.exit(run(main, parser(), writes="compact"))
