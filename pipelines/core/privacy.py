"""Pseudonymisation (contract section 5).

From silver on, a person is known only by `person_key` = HMAC-SHA256 of the
normalised ID number under a secret read from the environment. The secret is
captured in the closure of a pandas UDF, never put in a query plan: Spark
prints plans in errors and in its UI, and a literal there would leak it.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os

import pandas as pd
from pyspark.sql import Column
from pyspark.sql import functions as F

from pipelines.core.config import ConfigError, Settings

__all__ = ["DEV_SECRET", "PSEUDONYM", "resolve_secret", "pseudonymiser", "person_key_of"]

log = logging.getLogger(__name__)

# Clearly named so that it is recognisable wherever it turns up.
DEV_SECRET = "zhixing-DEVELOPMENT-ONLY-secret-do-not-use-in-production"
# The shape of every key a pseudonymised ID becomes: HMAC-SHA256 in lower-case hex.
PSEUDONYM = r"^[0-9a-f]{64}$"


def resolve_secret(settings: Settings, environ: dict[str, str] | None = None) -> bytes:
    """The pseudonymisation secret, or a refusal to start.

    A local config may fall back to the development secret (with a warning);
    any other config refuses to run without a real secret, and refuses the
    development secret even when it is set explicitly.
    """
    environ = os.environ if environ is None else environ
    name = settings.privacy.secret_env_var
    secret = environ.get(name, "")
    is_local_dev = settings.env == "local" and settings.privacy.allow_dev_secret
    if secret == DEV_SECRET and not is_local_dev:
        raise ConfigError(f"{name} holds the development secret; env '{settings.env}' needs a real one")
    if not secret:
        if not is_local_dev:
            raise ConfigError(f"environment variable {name} is not set: a '{settings.env}' run "
                              "refuses to pseudonymise without a real secret")
        log.warning("%s is not set: using the DEVELOPMENT pseudonymisation secret (local/demo only)", name)
        secret = DEV_SECRET
    if len(secret) < 16:
        raise ConfigError(f"{name} is too short: use at least 16 characters")
    return secret.encode("utf-8")


def person_key_of(id_number: str, secret: bytes) -> str:
    """The key of one normalised ID number (for tests and audits)."""
    return hmac.new(secret, id_number.strip().upper().encode("utf-8"), hashlib.sha256).hexdigest()


def pseudonymiser(secret: bytes):
    """A function mapping an ID-number column to its key column (null stays null)."""

    @F.pandas_udf("string")
    def _keys(ids: pd.Series) -> pd.Series:
        def one(value):
            if value is None or value is pd.NA or (isinstance(value, float) and pd.isna(value)):
                return None
            return hmac.new(secret, value.strip().upper().encode("utf-8"), hashlib.sha256).hexdigest()

        return ids.map(one)

    def apply(column: Column) -> Column:
        return _keys(column)

    return apply
