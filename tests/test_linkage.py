"""Entity resolution, rule by rule: shared phone, recycled phone, homonyms,
missing phone, no owner, a shop's phone, courtesy names.

Each scenario adds a few people to a background population of 4,000 distinct
strangers, so term frequencies behave as in a real registry.
"""

from __future__ import annotations

import datetime as dt

import pytest
from pyspark.sql import types as T
from test_ingest import make_id

from pipelines.config import LinkageSettings
from pipelines.silver.linkage import link_records

PERSON_SCHEMA = T.StructType([
    T.StructField("id_number", T.StringType()), T.StructField("name", T.StringType()),
    T.StructField("gender", T.StringType()), T.StructField("phone", T.StringType()),
    T.StructField("updated_at", T.TimestampType()), T.StructField("batch_dt", T.DateType()),
    T.StructField("source_file", T.StringType()), T.StructField("source_row", T.LongType()),
])
RECORD_SCHEMA = "source string, record_id string, name string, phone string, masked_id string, seen_at timestamp"
BATCH = dt.date(2025, 7, 1)
T0 = dt.datetime(2020, 1, 1)

SURNAMES = "赵钱孙李周吴郑王冯陈褚卫蒋沈韩杨朱秦尤许何吕施张孔曹严华金魏陶姜"
GIVEN = "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超兰霞平刚桂"


def _background(n: int = 4000) -> list[tuple]:
    rows = []
    for i in range(n):
        name = SURNAMES[i % len(SURNAMES)] + GIVEN[(i // 31) % len(GIVEN)] + GIVEN[(i // 7) % len(GIVEN)] + str(i)
        rows.append((make_id("19700101", i % 900 + 1, region=f"{110000 + i // 900}"), name,
                     "M", f"150{i:08d}", T0, BATCH, "f", i))
    return rows


def person(id_number, name, phone, at=T0, gender="M"):
    return (id_number, name, gender, phone, at, BATCH, "p", 0)


A = make_id("19800101", 11)              # 张伟, male
B = make_id("19820202", 22)              # 李娜, female
C = make_id("19900303", 33, "320311")    # a second 张伟 (homonym)
D = make_id("19750505", 55)              # 王芳


@pytest.fixture(scope="module")
def persons(spark):
    people = [
        person(A, "张伟", "13900000001"),
        person(B, "李娜", "13900000001", gender="F"),          # shares A's phone (family)
        person(C, "张伟", "13900000003"),
        person(D, "王芳", "13900000004", gender="F"),
        person(D, "王芳", "13900000005", at=dt.datetime(2023, 1, 1), gender="F"),   # D gives up ...04
        person(make_id("19950606", 66), "赵敏", "13900000004", at=dt.datetime(2024, 1, 1), gender="F"),  # ...04 recycled
    ]
    return spark.createDataFrame(people + _background(), PERSON_SCHEMA).cache()


def _link(spark, persons, records):
    df = spark.createDataFrame(records, RECORD_SCHEMA)
    return {r.record_id: r for r in link_records(df, persons, LinkageSettings()).collect()}


def order(record_id, name, phone=None, masked=None, at=dt.datetime(2024, 6, 1)):
    return ("ecommerce/orders", record_id, name, phone, masked, at)


def mask(id_number):
    return id_number[:6] + "********" + id_number[-4:]


def test_shared_phone_is_decided_by_the_name(spark, persons):
    links = _link(spark, persons, [order("o1", "李娜", "13900000001"), order("o2", "张伟", "13900000001")])
    assert (links["o1"].status, links["o1"].id_number) == ("linked", B)
    assert (links["o2"].status, links["o2"].id_number) == ("linked", A)
    assert links["o1"].candidates == 2 and links["o1"].has_phone_at_time


def test_shared_phone_without_a_name_stays_unlinked(spark, persons):
    links = _link(spark, persons, [("social/accounts", "s1", None, "13900000001", None, dt.datetime(2024, 6, 1))])
    assert links["s1"].status in ("weak", "ambiguous") and links["s1"].id_number is None
    assert links["s1"].candidates == 2


def test_recycled_phone_counts_only_while_it_was_theirs(spark, persons):
    links = _link(spark, persons, [
        order("before", "王芳", "13900000004", at=dt.datetime(2022, 6, 1)),   # still D's number
        order("after", "赵敏", "13900000004", at=dt.datetime(2024, 6, 1)),    # now 赵敏's
        order("stranger", "孙丽", "13900000004", at=dt.datetime(2024, 6, 1)),
        order("stale", "王芳", "13900000004", at=dt.datetime(2024, 6, 1)),    # D's old number, D's name
    ])
    assert (links["before"].status, links["before"].id_number) == ("linked", D)
    assert links["after"].status == "linked" and links["after"].id_number != D
    assert links["stranger"].status != "linked"
    # The number was no longer D's, so only the exact name carries the link, and it beats the holder.
    assert (links["stale"].status, links["stale"].id_number) == ("linked", D)
    assert links["stale"].has_phone_at_time is False
    assert links["stale"].match_weight < links["before"].match_weight


def test_homonyms_need_more_than_the_name(spark, persons):
    links = _link(spark, persons, [order("o1", "张伟", masked=mask(C)), order("o2", "张伟")])
    assert (links["o1"].status, links["o1"].id_number) == ("linked", C)   # masked ID + name
    assert links["o1"].is_masked_id_match and links["o1"].is_name_match
    assert (links["o2"].status, links["o2"].id_number) == ("no_candidate", None)   # a name alone never links


def test_missing_phone_links_through_masked_id_and_name(spark, persons):
    links = _link(spark, persons, [order("o1", "王芳", masked=mask(D))])
    assert (links["o1"].status, links["o1"].id_number) == ("linked", D)


def test_someone_outside_the_population_stays_unlinked(spark, persons):
    links = _link(spark, persons, [order("o1", "孙悟空", "18800000000", masked="110101********1234")])
    assert (links["o1"].status, links["o1"].id_number, links["o1"].candidates) == ("no_candidate", None, 0)


def test_a_shop_number_with_many_names_is_weak_evidence(spark, persons):
    shop = [order(f"s{i}", f"顾客{i}", "13900000003") for i in range(40)]
    links = _link(spark, persons, shop + [order("own", "张伟", "13900000003")])
    assert all(links[f"s{i}"].status == "weak" for i in range(40))
    assert all(links[f"s{i}"].id_number is None for i in range(40))
    # Even the holder's own order is only as strong as its name makes it.
    assert links["own"].match_weight < _link(spark, persons, [order("x", "张伟", "13900000003")])["x"].match_weight


def test_courtesy_name_of_the_right_gender_counts(spark, persons):
    links = _link(spark, persons, [order("o1", "王女士", "13900000005"), order("o2", "王先生", "13900000005")])
    assert (links["o1"].status, links["o1"].id_number) == ("linked", D)
    assert links["o2"].status == "weak" and links["o2"].is_name_match is False


def test_every_record_gets_a_row_with_evidence(spark, persons):
    records = [order("o1", "李娜", "13900000001"), order("o2", "无名", None)]
    links = _link(spark, persons, records)
    assert set(links) == {"o1", "o2"}
    assert links["o1"].match_probability > 0.999 and links["o1"].runner_up_weight is not None
