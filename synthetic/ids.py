"""Identity numbers (GB 11643-1999), unified social credit codes (GB 32100-2015),
phone numbers and masking, all vectorised.

The check characters are computed exactly as the contract's section 3 says,
so every generated ID is valid unless a fault deliberately breaks it.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from . import clock

ID_WEIGHTS = np.array([7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2], dtype=np.int64)
ID_CHECK = np.array(list("10X98765432"))

USCC_CHARS = "0123456789ABCDEFGHJKLMNPQRTUWXY"
USCC_WEIGHTS = np.array([1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28], dtype=np.int64)
ORG_WEIGHTS = np.array([3, 7, 9, 10, 5, 8, 4, 2], dtype=np.int64)

# Real mobile prefixes (China Mobile, Unicom, Telecom); numbers are 11 digits.
PHONE_PREFIXES = np.array([130, 131, 132, 133, 134, 135, 136, 137, 138, 139, 147, 150, 151, 152, 153, 155,
                           156, 157, 158, 159, 166, 172, 173, 175, 176, 177, 178, 180, 181, 182, 183, 184,
                           185, 186, 187, 188, 189, 191, 198, 199], dtype=np.int64)


def _digits(numbers: np.ndarray, width: int) -> np.ndarray:
    """(n, width) matrix of the decimal digits of each number, most significant first."""
    numbers = np.asarray(numbers, dtype=np.int64)
    powers = 10 ** np.arange(width - 1, -1, -1, dtype=np.int64)
    return (numbers[:, None] // powers[None, :]) % 10


def id_body(region: np.ndarray, birth_days: np.ndarray, seq: np.ndarray) -> np.ndarray:
    """The first 17 digits as one int64: region (6) + birth date (8) + sequence (3)."""
    return (np.asarray(region, dtype=np.int64) * 10**11 + clock.yyyymmdd(birth_days) * 1000
            + np.asarray(seq, dtype=np.int64))


def check_chars(body: np.ndarray) -> np.ndarray:
    """GB 11643 check character for each 17-digit body."""
    total = _digits(body, 17) @ ID_WEIGHTS
    return ID_CHECK[total % 11]


def format_ids(body: np.ndarray) -> pa.Array:
    """17-digit bodies -> 18-character ID strings with the right check character."""
    body = np.asarray(body, dtype=np.int64)
    text = pc.utf8_lpad(pa.array(body).cast(pa.string()), width=17, padding="0")
    return pc.binary_join_element_wise(text, pa.array(check_chars(body)), "")


def unique_sequences(rng: np.random.Generator, region: np.ndarray, birth_days: np.ndarray,
                     male: np.ndarray) -> np.ndarray:
    """Sequence codes (3 digits, odd for men) that make every (region, birth, seq) unique."""
    n = len(region)
    seq = _draw_seq(rng, male, np.arange(n))
    for _ in range(50):
        body = id_body(region, birth_days, seq)
        order = np.argsort(body, kind="stable")
        dup = np.zeros(n, dtype=bool)
        dup[order[1:]] = body[order[1:]] == body[order[:-1]]
        if not dup.any():
            return seq
        idx = np.flatnonzero(dup)
        seq[idx] = _draw_seq(rng, male[idx], idx)
    raise RuntimeError("could not make identity numbers unique: too many persons per region and birth date")


def _draw_seq(rng: np.random.Generator, male: np.ndarray, idx: np.ndarray) -> np.ndarray:
    # 17th digit odd for men, even for women; police stations use low codes most.
    half = rng.integers(0, 500, len(idx))
    return half * 2 + np.asarray(male, dtype=np.int64)


def is_valid_id(value: str) -> bool:
    """Pure-Python GB 11643 check, for tests and fault checks (accepts a lower-case x)."""
    if not isinstance(value, str) or len(value) != 18:
        return False
    value = value.upper()
    if not value[:17].isdigit() or value[17] not in "0123456789X":
        return False
    try:
        np.datetime64(f"{value[6:10]}-{value[10:12]}-{value[12:14]}", "D")
    except ValueError:
        return False
    if not ("1900" <= value[6:10] <= "2100"):
        return False
    total = sum(int(c) * int(w) for c, w in zip(value[:17], ID_WEIGHTS))
    return value[17] == ID_CHECK[total % 11]


def mask_ids(ids: pa.Array) -> pa.Array:
    """First 6 + eight `*` + last 4, as platforms and clerk exports show an ID."""
    return pc.binary_join_element_wise(pc.utf8_slice_codeunits(ids, 0, 6), "********",
                                       pc.utf8_slice_codeunits(ids, 14, 18), "")


def uscc_codes(rng: np.random.Generator, region: np.ndarray) -> np.ndarray:
    """Valid 18-character unified social credit codes for enterprises (`91` + region + org code)."""
    n = len(region)
    org_body = rng.integers(10**7, 10**8, n)
    org_sum = _digits(org_body, 8) @ ORG_WEIGHTS
    org_check = 11 - org_sum % 11
    org_char = np.where(org_check == 10, "X", np.where(org_check == 11, "0", org_check.astype(str)))
    head = np.char.add(np.char.add("91", np.asarray(region).astype(str)), org_body.astype(str))
    first17 = np.char.add(head, org_char)
    values = _uscc_values(first17)
    check = (31 - (values @ USCC_WEIGHTS) % 31) % 31
    return np.char.add(first17, np.array(list(USCC_CHARS))[check])


def _uscc_values(codes: np.ndarray) -> np.ndarray:
    """Character values of equal-length USCC prefixes, without a Python loop per code."""
    as_bytes = np.frombuffer(np.asarray(codes, dtype="S17").tobytes(), dtype=np.uint8).reshape(-1, 17)
    lookup = np.full(128, -1, dtype=np.int64)
    for i, ch in enumerate(USCC_CHARS):
        lookup[ord(ch)] = i
    return lookup[as_bytes]


def is_valid_uscc(code: str) -> bool:
    if not isinstance(code, str) or len(code) != 18 or any(c not in USCC_CHARS for c in code):
        return False
    total = sum(USCC_CHARS.index(c) * int(w) for c, w in zip(code[:17], USCC_WEIGHTS))
    return code[17] == USCC_CHARS[(31 - total % 31) % 31]


def unique_phones(rng: np.random.Generator, n: int, exclude: np.ndarray | None = None) -> np.ndarray:
    """`n` distinct 11-digit mobile numbers (int64), none of them in `exclude`."""
    taken = np.unique(exclude) if exclude is not None and len(exclude) else np.empty(0, dtype=np.int64)
    out = np.empty(0, dtype=np.int64)
    while out.size < n:
        need = int((n - out.size) * 1.1) + 16
        cand = PHONE_PREFIXES[rng.integers(0, PHONE_PREFIXES.size, need)] * 10**8 + rng.integers(0, 10**8, need)
        cand = cand[~np.isin(cand, taken)]
        _, first = np.unique(cand, return_index=True)
        cand = cand[np.sort(first)]
        cand = cand[~np.isin(cand, out)]
        out = np.concatenate([out, cand])
    return out[:n]
