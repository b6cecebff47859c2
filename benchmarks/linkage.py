"""Entity-resolution quality against the generator's ground truth.

Reads `silver/entity_links` of a lake built from a generated landing zone and
the zone's `truth/order_owner.csv` and `truth/social_account_owner.csv`
(which the pipeline itself never reads). Owners are pseudonymised with the
same secret, so the comparison happens in key space.

    python -m benchmarks.linkage --lake .demo/lake --truth data/sample/truth
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import pandas as pd
from deltalake import DeltaTable

from pipelines.core import catalog
from pipelines.core.config import load_settings
from pipelines.core.privacy import person_key_of, resolve_secret

TRUTH_FILES = {"ecommerce/orders": ("order_owner.csv", "order_id"),
               "social/accounts": ("social_account_owner.csv", "account_id")}


def linkage_quality(links: pd.DataFrame, truth_dir: Path, secret: bytes) -> dict[str, dict[str, float]]:
    """Precision and recall per source, and overall.

    precision = correct links / links made; recall = correct links / records
    whose true owner is in the population. Records absent from the links table
    (quarantined in bronze) are left out of both.
    """
    results, totals = {}, {"records": 0, "linked": 0, "correct": 0, "owned": 0}
    for source, (file_name, id_column) in TRUTH_FILES.items():
        truth = pd.read_csv(truth_dir / file_name, dtype=str, keep_default_na=False)
        truth["true_key"] = [person_key_of(v, secret) if v else None for v in truth["owner_id"]]
        mine = links[links["source"] == source][["record_id", "person_key", "status"]]
        joined = mine.merge(truth.rename(columns={id_column: "record_id"}), on="record_id", how="inner")
        linked = joined["status"] == "linked"
        correct = linked & (joined["person_key"] == joined["true_key"])
        owned = joined["true_key"].notna()
        counts = {"records": len(joined), "linked": int(linked.sum()), "correct": int(correct.sum()),
                  "owned": int(owned.sum())}
        for key in totals:
            totals[key] += counts[key]
        results[source] = {**counts, "precision": counts["correct"] / max(counts["linked"], 1),
                           "recall": counts["correct"] / max(counts["owned"], 1)}
    results["all"] = {**totals, "precision": totals["correct"] / max(totals["linked"], 1),
                      "recall": totals["correct"] / max(totals["owned"], 1)}
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="entity-resolution precision and recall against truth/")
    parser.add_argument("--lake", required=True)
    parser.add_argument("--truth", required=True)
    parser.add_argument("--conf", default="conf/local.yaml")
    args = parser.parse_args(argv)
    settings = load_settings(args.conf, lake=args.lake)
    links = DeltaTable(settings.table(catalog.ENTITY_LINKS)).to_pandas(
        columns=["source", "record_id", "person_key", "status"])
    print(json.dumps(linkage_quality(links, Path(args.truth), resolve_secret(settings)), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
