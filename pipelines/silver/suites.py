"""Quality suites of the silver layer: keys, enums, pseudonymisation shape, and
the integrity rates that say whether linking worked.

Critical expectations stop the run before gold is built; warnings are kept in
the results and Data Docs for someone to look at.
"""

from __future__ import annotations

from pipelines.core.privacy import PSEUDONYM
from pipelines.quality import Between, InSet, Integrity, Matches, NotNull, TableSuite, Unique
from pipelines.silver.build import merge_key
from pipelines.silver.spec import silver_tables

__all__ = ["silver_suites"]

# Share of rows whose reference resolves; below it something upstream broke.
SILVER_INTEGRITY = {
    "finance_balances": [Integrity("account_id", "finance_accounts", at_least=0.95)],
    "finance_transactions": [Integrity("account_id", "finance_accounts", at_least=0.95)],
    "court_parties": [
        Integrity("case_no", "court_cases", at_least=0.99),
        Integrity("party_key", "population_persons", ref_columns="person_key", at_least=0.95,
                  where="role = 'respondent'"),
    ],
    "court_closures": [Integrity("case_no", "court_cases", at_least=0.99)],
    # Linking quality: most orders should reach a person (a drop means ER broke).
    "ecommerce_orders": [NotNull("person_key", mostly=0.5, severity="warning")],
}


def silver_suites() -> list[TableSuite]:
    """One suite per silver table, derived from the contract, plus the entity links."""
    suites = []
    for table in silver_tables().values():
        key = merge_key(table)
        checks = [NotNull(key), Unique(key)]
        for col in table.dataset.columns:
            name = table.renames.get(col.name, col.name)
            if col.values:
                checks.append(InSet(name, col.values))
            if col.type in ("id", "uscc_or_id"):
                checks.append(Matches(name, PSEUDONYM))      # a key, never an ID number that slipped through
                if col.is_required:
                    checks.append(NotNull(name))
        checks += SILVER_INTEGRITY.get(table.name, [])
        suites.append(TableSuite(table.name, checks))
    suites.append(TableSuite("entity_links", [
        NotNull(["source", "record_id", "status"]), Unique(["source", "record_id"]),
        InSet("status", ["linked", "weak", "ambiguous", "no_candidate"]),
        Between("match_probability", min=0.0, max=1.0), Matches("person_key", PSEUDONYM),
    ]))
    return suites
