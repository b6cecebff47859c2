"""The contract's datasets as the generator writes them (CONTRACT.md section 2).

Column order is the contract's order; `kind` tells the writer how to format a
value and the fault injector what a broken one looks like. The pipeline keeps
its own copy under `conf/`; the generator deliberately does not import it, so
the two are independent readings of one spec and a test compares them.
"""

from __future__ import annotations

from dataclasses import dataclass

# kinds: str, id, party_id, enum, date, ts, money, int, region, phone
_ENUMS = {
    "gender": ("M", "F"),
    "education": ("primary", "junior_high", "senior_high", "vocational", "bachelor", "master", "doctorate", "unknown"),
    "occupation": ("farmer", "worker", "civil_servant", "professional", "self_employed", "unemployed", "retired",
                   "student", "other"),
    "kind": ("marriage", "divorce"),
    "account_type": ("savings", "current", "wealth_management", "securities"),
    "direction": ("in", "out"),
    "channel": ("counter", "atm", "online", "mobile"),
    "status": ("current", "overdue", "written_off", "settled"),
    "asset_type": ("real_estate", "vehicle", "equity"),
    "category": ("daily", "food", "electronics", "luxury", "travel", "education", "entertainment", "other"),
    "relation": ("family", "friend", "colleague", "business"),
    "cause": ("private_lending", "financial_loan", "sales_contract", "labor", "tort", "other"),
    "applicant_kind": ("person", "company", "bank"),
    "role": ("applicant", "respondent"),
    "party_kind": ("person", "company"),
    "closure": ("executed_in_full", "settled", "terminated_no_assets", "terminated_other", "transferred"),
    "ground": ("refuses_with_ability", "obstructs", "conceals_assets", "false_declaration",
               "violates_consumption_ban", "breaks_settlement"),
}


@dataclass(frozen=True)
class Column:
    name: str
    kind: str
    required: bool

    @property
    def values(self) -> tuple[str, ...]:
        return _ENUMS.get(self.name, ())


@dataclass(frozen=True)
class Dataset:
    name: str
    format: str                  # csv | jsonl
    columns: tuple[Column, ...]
    key: tuple[str, ...]
    event: tuple[str, ...]
    latest_wins: bool = False

    @property
    def encoding(self) -> str:
        return "gbk" if self.name == "population/persons" else "utf-8"

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    def column(self, name: str) -> Column:
        return next(c for c in self.columns if c.name == name)


def _cols(spec: str) -> tuple[Column, ...]:
    """`name:kind[!]` items; `!` marks a required column (enums are always filled)."""
    out = []
    for item in spec.split():
        name, kind = item.rstrip("!").split(":")
        out.append(Column(name, kind, item.endswith("!") or kind == "enum"))
    return tuple(out)


DATASETS: dict[str, Dataset] = {d.name: d for d in (
    Dataset("population/persons", "csv", _cols(
        "id_number:id! name:str! gender:enum birth_date:date! hukou_region:region! education:enum occupation:enum "
        "phone:phone updated_at:ts!"), ("id_number", "updated_at"), ("updated_at",)),
    Dataset("marriage/registrations", "csv", _cols(
        "registration_id:str! kind:enum spouse_a_id:id! spouse_b_id:id! registered_on:date! office_region:region!"),
        ("registration_id",), ("registered_on",)),
    Dataset("finance/accounts", "csv", _cols(
        "account_id:str! owner_id:id! bank_code:str! account_type:enum opened_on:date! closed_on:date"),
        ("account_id",), ("opened_on", "closed_on"), latest_wins=True),
    Dataset("finance/balances", "csv", _cols("account_id:str! as_of:date! balance:money!"),
            ("account_id", "as_of"), ("as_of",)),
    Dataset("finance/transactions", "jsonl", _cols(
        "txn_id:str! account_id:str! booked_at:ts! amount:money! direction:enum counterparty_id:id channel:enum"),
        ("txn_id",), ("booked_at",)),
    Dataset("finance/loans", "csv", _cols(
        "loan_id:str! borrower_id:id! lender_code:str! principal:money! issued_on:date! maturity_on:date! "
        "as_of:date! outstanding:money! overdue_days:int! status:enum"), ("loan_id", "as_of"), ("as_of",)),
    Dataset("finance/assets", "csv", _cols(
        "asset_id:str! owner_id:id! asset_type:enum region:region! acquired_on:date! disposed_on:date "
        "disposed_to_id:id declared_value:money!"), ("asset_id",), ("acquired_on", "disposed_on"), latest_wins=True),
    Dataset("ecommerce/orders", "jsonl", _cols(
        "order_id:str! platform:str! buyer_name:str! buyer_phone:phone buyer_id_masked:str ordered_at:ts! "
        "amount:money! category:enum ship_region:region"), ("order_id",), ("ordered_at",)),
    Dataset("social/accounts", "jsonl", _cols(
        "account_id:str! phone:phone nickname:str real_name:str registered_at:ts!"), ("account_id",), ("registered_at",)),
    Dataset("social/links", "jsonl", _cols(
        "src_account:str! dst_account:str! relation:enum since:date! until:date"),
        ("src_account", "dst_account", "relation"), ("since", "until"), latest_wins=True),
    Dataset("court/cases", "csv", _cols(
        "case_no:str! court_code:str! filed_on:date! cause:enum claim_amount:money! applicant_kind:enum"),
        ("case_no",), ("filed_on",)),
    Dataset("court/parties", "csv", _cols("case_no:str! role:enum party_kind:enum id_number:party_id! name:str!"),
            ("case_no", "role", "id_number"), ()),
    Dataset("court/closures", "csv", _cols(
        "case_no:str! closed_on:date! closure:enum amount_recovered:money!"), ("case_no",), ("closed_on",),
        latest_wins=True),
    Dataset("court/dishonest", "csv", _cols(
        "id_number:id! case_no:str! listed_on:date! delisted_on:date ground:enum"), ("id_number", "case_no"),
        ("listed_on", "delisted_on"), latest_wins=True),
)}
