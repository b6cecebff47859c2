"""What every job shares: its flags, logging, and exit codes.

Exit codes (documented in the README for schedulers):
    0  success
    1  unexpected failure (a bug, or the cluster fell over)
    2  bad usage or configuration
    3  finished, but some input was rejected (see the summary)
    4  a critical data-quality expectation failed; nothing downstream was written
    5  the population has shifted (drift PSI at or above monitor.shift) and monitor.fail_on_shift is set
    6  no champion model in the registry: nothing was scored
    7  another job holds the lake's run lock: this one did nothing (pipelines/core/lock.py)
"""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import sys
import time
from collections.abc import Callable

from pipelines.core.config import ConfigError, Settings, load_settings
from pipelines.core.lock import LakeBusy, lake_lock
from pipelines.core.privacy import resolve_secret

__all__ = ["EXIT_OK", "EXIT_FAILURE", "EXIT_USAGE", "EXIT_REJECTED", "EXIT_QUALITY_FAILED", "EXIT_DRIFT", "EXIT_NO_MODEL",
           "EXIT_BUSY", "job_parser", "settings_from_args", "run"]

EXIT_OK, EXIT_FAILURE, EXIT_USAGE, EXIT_REJECTED, EXIT_QUALITY_FAILED, EXIT_DRIFT, EXIT_NO_MODEL, EXIT_BUSY = range(8)
DEFAULT_CONF = "conf/local.yaml"

log = logging.getLogger("zhixing")


def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date YYYY-MM-DD: {text!r}") from None


def job_parser(description: str) -> argparse.ArgumentParser:
    """The flags every job takes; they override the config file."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--conf", default=DEFAULT_CONF, help=f"YAML config (default {DEFAULT_CONF})")
    parser.add_argument("--landing", help="landing zone URI (overrides paths.landing)")
    parser.add_argument("--lake", help="lake root URI (overrides paths.lake)")
    parser.add_argument("--exports", help="clerk export folder (overrides paths.exports)")
    parser.add_argument("--run-date", type=_date, help="logical run date YYYY-MM-DD")
    return parser


def settings_from_args(args: argparse.Namespace) -> Settings:
    return load_settings(args.conf, landing=args.landing, lake=args.lake,
                         exports=getattr(args, "exports", None), run_date=args.run_date)


def configure_logging() -> None:
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for noisy in ("py4j", "urllib3"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def run(main: Callable[[argparse.Namespace], int], parser: argparse.ArgumentParser,
        argv: list[str] | None = None, writes: str | None = None) -> int:
    """Parse flags, call `main`, and map failures to exit codes.

    A job that writes to the lake names itself in `writes`: it checks the pseudonymisation secret
    first (contract section 5), runs holding the lake's run lock, and leaves a row in the run
    audit (`monitor/runs`, pipelines/flows/audit.py) however it ends.
    """
    configure_logging()
    argv = sys.argv[1:] if argv is None else argv
    args = parser.parse_args(argv)
    started, started_at = time.monotonic(), dt.datetime.now()
    try:
        if writes:
            settings = settings_from_args(args)
            resolve_secret(settings)      # a production config without a real secret stops here, before any write
            with lake_lock(settings.lock_dir(), writes, settings.run_date):
                code = EXIT_FAILURE
                try:
                    code = main(args)
                finally:
                    _audit(settings, writes, argv, started_at, code)
        else:
            code = main(args)
    except ConfigError as exc:
        log.error("configuration error:\n%s", exc)
        return EXIT_USAGE
    except LakeBusy as exc:
        log.error("%s", exc)
        return EXIT_BUSY
    except Exception:  # noqa: BLE001 - a job must report, not vanish
        log.exception("job failed after %.1fs", time.monotonic() - started)
        return EXIT_FAILURE
    log.info("job finished with exit code %d after %.1fs", code, time.monotonic() - started)
    return code


def _audit(settings: Settings, job: str, argv: list[str], started_at: dt.datetime, code: int) -> None:
    """The run's audit row, through the session the job built; a job that never built one has no row."""
    from pyspark.sql import SparkSession

    from pipelines.flows.audit import record_run

    spark = SparkSession.getActiveSession()
    if spark is None:
        log.warning("run audit: %s ended (exit %d) before starting Spark: no row in monitor/runs", job, code)
        return
    try:
        record_run(spark, settings, job, argv, started_at, code)
    except Exception:  # noqa: BLE001 - the audit must not change how the job ended
        log.exception("run audit: could not record %s (exit %d)", job, code)
