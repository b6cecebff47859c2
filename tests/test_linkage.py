"""Entity resolution, rule by rule: shared phone, recycled phone, homonyms,
missing phone, no owner, a shop's phone, courtesy names, a name within its
region, and what family links between social accounts say.

Each scenario adds a few people to a background population of 4,000 distinct
strangers, so term frequencies behave as in a real registry.
"""

from __future__ import annotations

import datetime as dt

import pytest
from pyspark.sql import types as T
from pyspark.testing import assertDataFrameEqual
from test_ingest import make_id

from helpers.paths import CONF

from pipelines.core.config import load_settings
from pipelines.silver.linkage import family_pairs, link_records

LINKAGE = load_settings(CONF).linkage   # the defaults, from conf/base.yaml

PERSON_SCHEMA = T.StructType([
    T.StructField("id_number", T.StringType()), T.StructField("name", T.StringType()),
    T.StructField("gender", T.StringType()), T.StructField("phone", T.StringType()),
    T.StructField("hukou_region", T.StringType()), T.StructField("updated_at", T.TimestampType()),
    T.StructField("batch_dt", T.DateType()), T.StructField("source_file", T.StringType()),
    T.StructField("source_row", T.LongType()),
])
RECORD_SCHEMA = ("source string, record_id string, name string, phone string, masked_id string, region string, "
                 "seen_at timestamp")
FAMILY_SCHEMA = "account_id string, relative_account string"
BATCH = dt.date(2025, 7, 1)
T0 = dt.datetime(2020, 1, 1)

SURNAMES = "赵钱孙李周吴郑王冯陈褚卫蒋沈韩杨朱秦尤许何吕施张孔曹严华金魏陶姜"
GIVEN = "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超兰霞平刚桂"


def _background(n: int = 4000) -> list[tuple]:
    rows = []
    for i in range(n):
        name = SURNAMES[i % len(SURNAMES)] + GIVEN[(i // 31) % len(GIVEN)] + GIVEN[(i // 7) % len(GIVEN)] + str(i)
        region = f"{110000 + i // 900}"
        rows.append((make_id("19700101", i % 900 + 1, region=region), name, "M", f"150{i:08d}", region,
                     T0, BATCH, "f", i))
    return rows


def person(id_number, name, phone, at=T0, gender="M"):
    return (id_number, name, gender, phone, id_number[:6], at, BATCH, "p", 0)


A = make_id("19800101", 11)              # 张伟, male
B = make_id("19820202", 22)              # 李娜, female
C = make_id("19900303", 33, "320311")    # a second 张伟 (homonym)
D = make_id("19750505", 55)              # 王芳
H = make_id("19920101", 12, "320311")    # 陈静, and a second 陈静 far away


@pytest.fixture(scope="module")
def persons(spark):
    people = [
        person(A, "张伟", "13900000001"),
        person(B, "李娜", "13900000001", gender="F"),          # shares A's phone (family)
        person(C, "张伟", "13900000003"),
        person(D, "王芳", "13900000004", gender="F"),
        person(D, "王芳", "13900000005", at=dt.datetime(2023, 1, 1), gender="F"),   # D gives up ...04
        person(make_id("19950606", 66), "赵敏", "13900000004", at=dt.datetime(2024, 1, 1), gender="F"),  # ...04 recycled
        person(H, "陈静", None, gender="F"),
        person(make_id("19930101", 14, "110001"), "陈静", None, gender="F"),
    ]
    return spark.createDataFrame(people + _background(), PERSON_SCHEMA).cache()


def _links(spark, persons, records, family=None, settings=LINKAGE):
    """link_records of `records` (in RECORD_SCHEMA), with `family` pairs both ways round."""
    df = spark.createDataFrame(records, RECORD_SCHEMA)
    if family is not None:
        family = spark.createDataFrame(family + [(b, a) for a, b in family], FAMILY_SCHEMA)
    return link_records(df, persons, settings, family)


def _link(spark, persons, records, family=None, settings=LINKAGE):
    return {r.record_id: r for r in _links(spark, persons, records, family, settings).collect()}


def order(record_id, name, phone=None, masked=None, at=dt.datetime(2024, 6, 1), region=None):
    return ("ecommerce/orders", record_id, name, phone, masked, region, at)


def account(record_id, name, phone=None, at=dt.datetime(2024, 6, 1)):
    return ("social/accounts", record_id, name, phone, None, None, at)


def mask(id_number):
    return id_number[:6] + "********" + id_number[-4:]


def test_shared_phone_is_decided_by_the_name(spark, persons):
    got = _links(spark, persons, [order("o1", "李娜", "13900000001"), order("o2", "张伟", "13900000001")]) \
        .select("record_id", "status", "id_number", "candidates", "has_phone_at_time")
    assertDataFrameEqual(got, spark.createDataFrame([
        ("o1", "linked", B, 2, True),
        ("o2", "linked", A, 2, True),
    ], got.schema))


def test_shared_phone_without_a_name_stays_unlinked(spark, persons):
    links = _link(spark, persons, [account("s1", None, "13900000001")])
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
    got = _links(spark, persons, [order("o1", "张伟", masked=mask(C)), order("o2", "张伟")]) \
        .select("record_id", "status", "id_number", "is_masked_id_match", "is_name_match")
    assertDataFrameEqual(got, spark.createDataFrame([
        ("o1", "linked", C, True, True),             # masked ID + name
        ("o2", "no_candidate", None, None, None),    # a name alone never links
    ], got.schema))


def test_missing_phone_links_through_masked_id_and_name(spark, persons):
    got = _links(spark, persons, [order("o1", "王芳", masked=mask(D))]).select("record_id", "status", "id_number")
    assertDataFrameEqual(got, spark.createDataFrame([("o1", "linked", D)], got.schema))


def test_someone_outside_the_population_stays_unlinked(spark, persons):
    got = _links(spark, persons, [order("o1", "孙悟空", "18800000000", masked="110101********1234")]) \
        .select("record_id", "status", "id_number", "candidates")
    assertDataFrameEqual(got, spark.createDataFrame([("o1", "no_candidate", None, 0)], got.schema))


def test_a_shop_number_with_many_names_is_weak_evidence(spark, persons):
    shop = [order(f"s{i}", f"顾客{i}", "13900000003") for i in range(40)]
    links = _link(spark, persons, shop + [order("own", "张伟", "13900000003")])
    assert all(links[f"s{i}"].status == "weak" for i in range(40))
    assert all(links[f"s{i}"].id_number is None for i in range(40))
    # Even the holder's own order is only as strong as its name makes it.
    assert links["own"].match_weight < _link(spark, persons, [order("x", "张伟", "13900000003")])["x"].match_weight


def test_courtesy_name_of_the_right_gender_counts(spark, persons):
    got = _links(spark, persons, [order("o1", "王女士", "13900000005"), order("o2", "王先生", "13900000005")]) \
        .select("record_id", "status", "id_number", "is_name_match")
    assertDataFrameEqual(got, spark.createDataFrame([
        ("o1", "linked", D, True),
        ("o2", "weak", None, False),
    ], got.schema))


def test_every_record_gets_a_row_with_evidence(spark, persons):
    records = [order("o1", "李娜", "13900000001"), order("o2", "无名", None)]
    links = _link(spark, persons, records)
    assert set(links) == {"o1", "o2"}
    assert links["o1"].match_probability > 0.999 and links["o1"].runner_up_weight is not None


def test_an_order_with_only_a_name_links_by_ship_region_if_the_name_is_unique(spark, persons):
    got = _links(spark, persons, [order("home", "王芳", region="320312"), order("away", "王芳", region="110000"),
                                  order("nowhere", "王芳"), order("homonym", "陈静", region="320311"),
                                  order("phone", "王芳", "18800000000", region="320312")]) \
        .select("record_id", "status", "id_number", "is_region_match", "is_masked_id_match")
    assertDataFrameEqual(got, spark.createDataFrame([
        ("home", "linked", D, True, None),
        ("away", "no_candidate", None, None, None),       # the name alone, elsewhere, is no block
        ("nowhere", "no_candidate", None, None, None),    # nor is it without a region
        # One 陈静 lives in 320311, but the registry has two: a city is too wide for that.
        ("homonym", "no_candidate", None, None, None),
        # A stranger's phone is a key that reaches nobody: the region is not tried.
        ("phone", "no_candidate", None, None, None),
    ], got.schema))


def test_a_number_no_one_holds_with_many_names_is_set_aside(spark, persons):
    counter = [order(f"c{i}", f"顾客{i}", "18800000001") for i in range(12)]
    got = _links(spark, persons, counter + [order("own", "王芳", "18800000001", region="320312"),
                                            order("few", "王芳", "18800000002", region="320312")]) \
        .select("record_id", "status", "id_number", "has_shared_phone", "is_region_match")
    assertDataFrameEqual(got, spark.createDataFrame(
        [(f"c{i}", "no_candidate", None, True, None) for i in range(12)] + [
            ("own", "linked", D, True, True),
            # One name on an unknown number is somebody's own phone, not a shop's: it is kept, and reaches no one.
            ("few", "no_candidate", None, False, None),
        ], got.schema))

def test_names_the_holder_bears_do_not_weaken_the_phone(spark, persons):
    def weight(*others):
        return _link(spark, persons, [account("s", None, "13900000005"), *others])["s"].match_weight

    alone = weight()
    assert weight(order("own", "王芳", "13900000005"), order("title", "王女士", "13900000005")) == alone
    assert weight(order("stranger", "孙丽", "13900000005")) < alone


def test_a_family_link_rules_out_the_relative_on_a_shared_phone(spark, persons):
    records = [account("s1", None, "13900000001"), account("s2", "李娜", "13900000001")]
    # Against 4,000 people a phone two hold is worth 10.8 bits; real registries are larger.
    settings = LINKAGE.model_copy(update={"link_threshold_bits": 10.0})
    columns = ["record_id", "status", "id_number", "relatives_excluded"]
    alone = _links(spark, persons, records, settings=settings).select(columns)
    assertDataFrameEqual(alone, spark.createDataFrame([
        ("s1", "ambiguous", None, 0),
        ("s2", "linked", B, 0),
    ], alone.schema))
    links = _links(spark, persons, records, family=[("s1", "s2")], settings=settings).select(columns)
    assertDataFrameEqual(links, spark.createDataFrame([
        ("s1", "linked", A, 1),
        ("s2", "linked", B, 0),
    ], links.schema))


def test_a_family_link_gives_a_phoneless_account_its_relatives_region(spark, persons):
    records = [account("s1", "张伟", "13900000001"), account("s2", "王芳"), account("s3", "王芳"),
               account("c", "张伟", "13900000003"), account("s4", "陈静")]
    got = _links(spark, persons, records, family=[("s2", "s1"), ("s3", "nobody"), ("s4", "c")]) \
        .select("record_id", "status", "id_number", "is_region_match")
    assertDataFrameEqual(got, spark.createDataFrame([
        ("s1", "linked", A, None),
        ("c", "linked", C, None),
        ("s2", "linked", D, True),
        ("s3", "no_candidate", None, None),    # no linked relative
        # A relative's region points at a household: a name the registry gives twice still links there.
        ("s4", "linked", H, True),
    ], got.schema))


def test_family_pairs_are_family_only_both_ways_latest_delivery(spark):
    rows = [("a", "b", "family", BATCH, "f", 1), ("a", "c", "friend", BATCH, "f", 2),
            ("a", "d", "family", BATCH, "f", 3), ("a", "d", "colleague", BATCH, "f", 4)]
    links = spark.createDataFrame(rows, "src_account string, dst_account string, relation string, "
                                        "batch_dt date, source_file string, source_row int")
    expected = spark.createDataFrame([("a", "b"), ("b", "a"), ("a", "d"), ("d", "a")],
                                     "account_id string, relative_account string")
    assertDataFrameEqual(family_pairs(links), expected)
