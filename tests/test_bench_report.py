"""The bench's report: targets judged from the measurements, prose kept, unfinished sizes named."""

from __future__ import annotations

import json

from benchmarks.suite import BEGIN, END, ratios, render, write_report


def _stage(name, seconds, rows):
    return {"stage": name, "rows": rows, "seconds": seconds, "rows_per_second": round(rows / seconds),
            "driver_python_peak_mb": 400, "jvm_peak_mb": 5000}


def _result(persons, scale):
    night = {"seconds": 100.0 * scale, "driver_python_peak_mb": 400, "jvm_peak_mb": 5000,
             "stages": [_stage("ingest", 30.0 * scale, 1000 * persons), _stage("features", 20.0 * scale, persons),
                        _stage("score", 10.0 * scale, 400 * persons // 1000)]}
    return {"persons": persons, "landing": {"bytes": 2**20, "files": 98}, "bare_ingest": {"seconds": 15.0 * scale, "rows": 1},
            "backfill": night, "nightly": night,
            "layers": {layer: {"tables": 1, "bytes": 2**20, "files": 2, "rows": 3}
                       for layer in ("bronze", "silver", "gold", "monitor")},
            "native_scoring": {"rows": 400 * persons // 1000, "predict_seconds": 0.1 * scale,
                               "predict_and_contrib_seconds": 4.0 * scale, "threads": 2},
            "gold_duckdb": {"seconds": 1.0 * scale, "rows": 10, "agreement_min": 1.0},
            "gold_spark_sql": {"seconds": 5.0 * scale, "rows": 10},
            "training": {"frame_seconds": 1.0, "matrix_seconds": 0.2, "fit_seconds": 10.0 * scale,
                         "training_rows_total": "10", "training_sample_fraction": "1.0"},
            "driver_python_peak_mb_backfill_process": 500, "driver_python_peak_mb_nightly_process": 600,
            "machine": {"cpu": "x86_64", "cores": 2, "memory_gb": 24, "python": "3.11", "java": "openjdk 17",
                        "spark": "4.1.1", "master": "local[*]", "shuffle_partitions": "16", "driver_memory": "8g",
                        "lightgbm": "4.7.0", "duckdb": "2.0.1", "date": "2026-11-26"}}


def test_targets_are_judged_from_the_measurements():
    rows = {(r["what"], r["persons"]): r for r in ratios([_result(100_000, 1.0), _result(1_000_000, 8.0)])}
    ingest = rows[("ingest vs bare read -> Delta", 100_000)]
    assert ingest["ratio"] == 2.0 and not ingest["met"]
    like_for_like = rows[("scoring rows/s vs native Booster (predict + contributions)", 100_000)]
    assert like_for_like["ratio"] == 0.4 and not like_for_like["met"]
    nightly = rows[("nightly run, 1,000,000 vs 100,000 persons", 1_000_000)]
    assert nightly["ratio"] == 8.0 and nightly["met"]                       # 8x the time for 10x the persons
    training = rows[("training matrix build vs LightGBM fit", 1_000_000)]
    assert abs(training["ratio"] - 1.2 / 80) < 1e-9 and training["met"]


def test_the_report_keeps_the_prose_and_names_an_unfinished_size(tmp_path):
    path = tmp_path / "BENCHMARKS.md"
    path.write_text(f"# Benchmarks\n\nbefore\n\n{BEGIN}\nold figures\n{END}\n\nafter\n", encoding="utf-8")
    write_report([_result(100_000, 1.0), {"persons": 1_000_000, "bare_ingest": {"seconds": 1.0}}], path)
    text = path.read_text(encoding="utf-8")
    assert text.startswith("# Benchmarks\n\nbefore\n") and text.endswith("after\n")
    assert "old figures" not in text and "| ingest vs bare read -> Delta | 100,000 |" in text
    assert "1,000,000 persons: not finished when this was written (done: bare_ingest)" in text
    assert render([]) == "No size has finished yet.\n"
    json.dumps(_result(1, 1.0))                                             # results are plain JSON
