"""Delta tables: when one exists, and compaction keeps the rows and leaves small tables alone."""

from deltalake import DeltaTable as ArrowDelta

from pipelines.core import storage


def test_compaction_bin_packs_many_small_files_and_keeps_every_row(spark, tmp_path):
    uri = str(tmp_path / "case_scores")
    for night in range(12):                                    # twelve nightly appends: twelve small files
        storage.append(spark.createDataFrame([(f"C{night}", night / 10)], "case_no string, p double"), uri)
    few = str(tmp_path / "few")
    storage.append(spark.createDataFrame([("A", 1.0)], "case_no string, p double"), few)

    assert storage.compact(spark, few, min_files=4) is None
    before = sorted(map(tuple, storage.read_delta(spark, uri).collect()))
    files_before, files_after = storage.compact(spark, uri, min_files=4)
    assert files_before == 12 and files_after == 1
    assert sorted(map(tuple, storage.read_delta(spark, uri).collect())) == before
    assert ArrowDelta(uri).to_pyarrow_table().num_rows == 12            # another engine reads it after OPTIMIZE
    assert storage.compact(spark, uri, min_files=4) is None             # nothing left to do


def test_a_table_exists_from_its_first_commit_not_from_its_log_folder(spark, tmp_path):
    uri = str(tmp_path / "scores")
    (tmp_path / "scores" / "_delta_log").mkdir(parents=True)       # what a kill during the first write leaves
    assert not storage.delta_exists(spark, uri)
    storage.append(spark.createDataFrame([("A", 1.0)], "case_no string, p double"), uri)
    assert storage.delta_exists(spark, uri)
    assert not storage.delta_exists(spark, str(tmp_path / "nothing"))
