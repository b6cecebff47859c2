"""Name pools: Chinese surnames with their real frequencies, given-name
characters with a steep (Zipf-like) popularity, company and nickname parts.

The point is homonyms: a handful of surnames cover half the population and
popular given names repeat, so "张伟" or "王芳" name many different people and
entity resolution cannot link on the name alone. Every character is in GBK,
because the population registry is delivered in GBK.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

# Top surnames, percent of the population (2020 census order); the tail shares the rest.
_SURNAMES = (
    "王 7.12 李 7.00 张 6.74 刘 5.10 陈 4.61 杨 3.22 黄 2.45 赵 2.19 吴 2.00 周 1.91 徐 1.67 孙 1.54 马 1.48 "
    "朱 1.45 胡 1.31 郭 1.20 何 1.18 林 1.18 高 1.15 罗 1.13 郑 1.08 梁 1.02 谢 0.96 宋 0.87 唐 0.85 许 0.80 "
    "韩 0.77 冯 0.72 邓 0.71 曹 0.70 彭 0.68 曾 0.67 肖 0.65 田 0.63 董 0.62 潘 0.60 袁 0.59 于 0.58 蒋 0.57 "
    "蔡 0.56 余 0.55 杜 0.53 叶 0.52 程 0.51 苏 0.50 魏 0.49 吕 0.48 丁 0.47 任 0.46 沈 0.45 姚 0.44 卢 0.43 "
    "姜 0.42 崔 0.41 钟 0.40 谭 0.39 陆 0.38 汪 0.37 范 0.36 金 0.35 石 0.34 廖 0.33 贾 0.32 夏 0.31 韦 0.30 "
    "付 0.29 方 0.28 白 0.27 邹 0.26 孟 0.25 熊 0.24 秦 0.23 邱 0.22 江 0.21 尹 0.20 薛 0.19 闫 0.18 段 0.17 "
    "雷 0.16 侯 0.15 龙 0.14 史 0.13 陶 0.12 黎 0.11 贺 0.10 顾 0.10 毛 0.09 郝 0.09 龚 0.08 邵 0.08 万 0.07 "
    "钱 0.07 严 0.06 覃 0.06 武 0.06 戴 0.05 莫 0.05 孔 0.05 向 0.04 汤 0.04 欧阳 0.03 司马 0.01 诸葛 0.01 上官 0.01"
).split()
SURNAMES = np.array(_SURNAMES[0::2])
SURNAME_WEIGHTS = np.array(_SURNAMES[1::2], dtype=float) / float(np.sum(np.array(_SURNAMES[1::2], dtype=float)))

MALE_CHARS = np.array(list("伟强磊军勇杰涛斌超明刚平辉鹏华飞鑫波宇浩凯健俊帆帅旭宁龙林洋阳亮成峰建国志文海东"
                           "晨博磊振涛宏毅瑞轩子豪家俊彬昊天泽一鸣浩然思远嘉兴立新永春德华金生福"))
FEMALE_CHARS = np.array(list("芳娜敏静丽艳娟霞秀玲燕红婷雪琳晶丹慧萍颖倩莉梅兰洁琴云莹欣蕾璐露佳怡梦瑶雨萱"
                             "诗涵思彤紫悦淑英桂珍凤美荣月翠玉"))
# Minority names in the registry carry a middle dot; it exists in GBK (A1A4).
MINORITY_NAMES = np.array(["阿不都·热合曼", "古丽·买买提", "艾力·吐尔逊", "迪丽·阿不都", "买买提·艾力"])


def _zipf(n: int, exponent: float) -> np.ndarray:
    w = 1.0 / np.arange(1, n + 1) ** exponent
    return w / w.sum()


def draw_surnames(rng: np.random.Generator, n: int) -> np.ndarray:
    """Indices into SURNAMES, drawn with real frequencies."""
    return rng.choice(SURNAMES.size, size=n, p=SURNAME_WEIGHTS)


def draw_given(rng: np.random.Generator, male: np.ndarray) -> pa.Array:
    """Given names: one or two characters, popular ones far more often (homonyms)."""
    n = male.size
    first = np.where(male, rng.choice(MALE_CHARS.size, n, p=_zipf(MALE_CHARS.size, 0.85)),
                     rng.choice(FEMALE_CHARS.size, n, p=_zipf(FEMALE_CHARS.size, 0.85)))
    second = np.where(male, rng.choice(MALE_CHARS.size, n, p=_zipf(MALE_CHARS.size, 0.7)),
                      rng.choice(FEMALE_CHARS.size, n, p=_zipf(FEMALE_CHARS.size, 0.7)))
    c1 = np.where(male, MALE_CHARS[np.minimum(first, MALE_CHARS.size - 1)],
                  FEMALE_CHARS[np.minimum(first, FEMALE_CHARS.size - 1)])
    c2 = np.where(male, MALE_CHARS[np.minimum(second, MALE_CHARS.size - 1)],
                  FEMALE_CHARS[np.minimum(second, FEMALE_CHARS.size - 1)])
    single = rng.random(n) < 0.22
    c2 = np.where(single | (c2 == c1), "", c2)
    return pc.binary_join_element_wise(pa.array(c1), pa.array(c2), "")


def full_names(rng: np.random.Generator, surname_idx: np.ndarray, male: np.ndarray) -> pa.Array:
    """Surname + given name; a few registry names are minority names with a middle dot."""
    names = pc.binary_join_element_wise(pa.array(SURNAMES[surname_idx]), draw_given(rng, male), "")
    minority = rng.random(male.size) < 0.002
    if minority.any():
        pick = pa.array(MINORITY_NAMES[rng.integers(0, MINORITY_NAMES.size, male.size)])
        names = pc.if_else(pa.array(minority), pick, names)
    return names


_CITY = np.array(["徐州", "江苏", "徐州市", "铜山", "新沂", "沛县"])
_WORD = np.array(list("恒达宏远金鑫华泰永盛鼎丰瑞祥汇通兴隆佳和润泽诚信宏图东方长城天成"))
_TRADE = np.array(["商贸", "建材", "工程机械", "物流", "农业科技", "房地产开发", "餐饮管理", "建筑劳务",
                   "电子科技", "汽车销售", "纺织", "小额贷款", "融资担保", "装饰工程", "食品"])
_FORM = np.array(["有限公司", "有限责任公司", "股份有限公司", "商贸中心（普通合伙）"])


def company_names(rng: np.random.Generator, n: int, messy: bool) -> np.ndarray:
    """Plausible enterprise names; with `messy`, a few carry a comma or a line break,
    as free-text party names typed into a case-management system do."""
    w1 = _WORD[rng.integers(0, _WORD.size, n)]
    w2 = _WORD[rng.integers(0, _WORD.size, n)]
    names = np.char.add(np.char.add(np.char.add(_CITY[rng.integers(0, _CITY.size, n)], w1), w2),
                        np.char.add(_TRADE[rng.integers(0, _TRADE.size, n)], _FORM[rng.integers(0, _FORM.size, n)]))
    names = names.astype(object)
    if messy and n >= 6:
        pick = rng.choice(n, size=max(2, n // 40), replace=False)
        half = pick.size // 2
        for i in pick[:half]:  # a handful of names: not a hot path
            names[i] = f"{names[i]}, 第一分公司"
        for i in pick[half:]:
            text = names[i]
            names[i] = f"{text[:4]}\n{text[4:]}"
    return names


BANKS = (  # code, name, card BIN
    ("ICBC", "中国工商银行股份有限公司徐州分行", 622202),
    ("ABC", "中国农业银行股份有限公司徐州分行", 622848),
    ("BOC", "中国银行股份有限公司徐州分行", 621661),
    ("CCB", "中国建设银行股份有限公司徐州分行", 621700),
    ("BOCOM", "交通银行股份有限公司徐州分行", 622262),
    ("CMB", "招商银行股份有限公司徐州分行", 621483),
    ("PSBC", "中国邮政储蓄银行股份有限公司徐州市分行", 621799),
    ("JSRCB", "江苏铜山农村商业银行股份有限公司", 622452),
    ("WEBANK", "深圳前海微众银行股份有限公司", 623501),
    ("MYBANK", "浙江网商银行股份有限公司", 623191),
)
BANK_CODES = np.array([b[0] for b in BANKS])
BANK_NAMES = np.array([b[1] for b in BANKS])
BANK_BINS = np.array([b[2] for b in BANKS], dtype=np.int64)
BANK_WEIGHTS = np.array([0.2, 0.16, 0.1, 0.16, 0.07, 0.08, 0.1, 0.07, 0.03, 0.03])

_NICK_A = np.array(["快乐的", "安静的", "努力的", "爱笑的", "孤独的", "阳光", "小", "老", "大", "追风的", "Sunny",
                    "Lucky", "🌸", "✨", "a"])
_NICK_B = np.array(["小鱼", "猫咪", "少年", "张", "李哥", "王姐", "程序员", "宝妈", "司机", "茶叶店", "老板",
                    "Tom", "Angel", "木子", "阿强", "月亮"])
_NICK_ODD = np.array(["吃货,一枚", "\"阿强\"", "晴天\n雨天", "Tab\t键", "路人甲, 乙", "反斜杠\\小王"])


def nicknames(rng: np.random.Generator, n: int, messy: bool) -> np.ndarray:
    """Free-text nicknames; with `messy`, a few hold commas, quotes, tabs or line breaks."""
    nick = np.char.add(_NICK_A[rng.integers(0, _NICK_A.size, n)], _NICK_B[rng.integers(0, _NICK_B.size, n)])
    nick = nick.astype(object)
    if messy:
        odd = rng.random(n) < 0.01
        nick[odd] = _NICK_ODD[rng.integers(0, _NICK_ODD.size, int(odd.sum()))]
    return nick
