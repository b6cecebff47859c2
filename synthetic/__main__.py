"""Write a synthetic landing zone and its ground truth.

    python -m synthetic --out data/sample --persons 13000 --seed 20261125 --messy --faults

For the gold layer's leak test, a data set with leakage traps (not the committed sample):

    python -m synthetic --out /tmp/traps --persons 13000 --seed 20261125 --leakage-traps

It delivers every record in the batch of its event day, and gives most cases filed in the
nightly batches records dated on and after their filing day, one of each event-time family
(see truth/README.md), listed in truth/leakage_traps.csv. Features built as of filed_on must
not see any of them.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys

from synthetic import generate


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", required=True, help="output folder; landing/ and truth/ are replaced")
    parser.add_argument("--persons", type=int, required=True, help="size of the population")
    parser.add_argument("--seed", type=int, required=True)
    parser.add_argument("--backfill-dt", default="2026-10-31", help="date of the historical back-fill batch")
    parser.add_argument("--daily-batches", type=int, default=6, help="nightly batches after the back-fill")
    parser.add_argument("--messy", action="store_true", help="valid but messy files (gz, BOM, CRLF, parts, ...)")
    parser.add_argument("--faults", action="store_true", help="inject the bad input of contract section 6")
    parser.add_argument("--leakage-traps", action="store_true",
                        help="deliver every record on its event day and plant records on and after the filing "
                             "day of most nightly cases (truth/leakage_traps.csv)")
    parser.add_argument("--compresslevel", type=int, default=None,
                        help="gzip level of .gz files (default 6, or 1 above 200,000 persons)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    if args.persons < 50:
        parser.error("--persons must be at least 50")
    summary = generate(args.out, args.persons, args.seed, backfill_dt=args.backfill_dt,
                       daily_batches=args.daily_batches, messy=args.messy, faults=args.faults,
                       compresslevel=args.compresslevel, leakage_traps=args.leakage_traps)
    logging.getLogger("synthetic.__main__").info("summary %s", json.dumps(summary, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
