"""The sources as a clerk names them: one Chinese label per contract dataset, for every court file."""

from __future__ import annotations

__all__ = ["SOURCE_ZH"]

SOURCE_ZH = {
    "population/persons": "户籍登记",
    "marriage/registrations": "婚姻登记",
    "finance/accounts": "银行开户信息",
    "finance/balances": "银行存款查询",
    "finance/transactions": "银行交易流水",
    "finance/loans": "贷款记录",
    "finance/assets": "财产登记",
    "ecommerce/orders": "电商订单",
    "social/accounts": "社交账号",
    "social/links": "社交关系",
    "court/cases": "本院案件",
    "court/parties": "案件当事人",
    "court/closures": "结案信息",
    "court/dishonest": "失信被执行人名单",
}
