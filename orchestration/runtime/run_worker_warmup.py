"""Imported once by the code server's forkserver (`orchestration.runtime.code_server`), so that
every run process forked from it starts warm.

A run process's first steps are importing Dagster's run entry point and this code location
(~1.1 s), then loading the Dagster instance, whose storages import ~300 more modules (alembic,
SQLAlchemy dialects, the daemon's types) the first time: another 0.3 to 0.5 s. Doing both here
once leaves a forked run process only its own work. The instance is disposed again, which closes
its storages' connection pools, so no socket is shared across the fork; what its storages found
of the database's schema stays known (`pooled_storage.ask_schema_probes`).
"""

import logging
import os

import dagster._grpc.impl  # noqa: F401  (the run process's entry point)
import duckdb
from dagster import DagsterInstance
from dagster._core.instance.ref import InstanceRef
from phonenumbers.phonenumberutil import COUNTRY_CODE_TO_REGION_CODE

# A forked child re-runs the server's main script, `oliai`, which imports the CLI.
import orchestration.cli.main
import orchestration.definitions
import orchestration.runtime.code_server  # noqa: F401
from core.warehouse.rehearsal import rehearse_write
from orchestration.runtime.pooled_storage import ask_schema_probes
from transforms.phone_plans import country_rules
from transforms.phones import warm_phonenumbers

# Every calling code's validation rules, from phonenumbers' metadata (~40 ms). Pure Python: the
# forkserver must not start Polars' thread pool, which its forked children could not use.
for code in COUNTRY_CODE_TO_REGION_CODE:
    country_rules(code)
# And phonenumbers' own patterns, for the numbers a small import checks one by one (~0.1 s).
warm_phonenumbers()

# The lake write's first use of DuckDB: Arrow (frames cross into DuckDB through it), the two
# extensions (~65 ms of every run's write), and a write rehearsed on a throwaway lake (~50 ms
# more), in a database closed again: their libraries stay mapped, and no DuckDB thread is left
# to cross the fork. Only a warm-up: if it fails (no usable temporary directory, say), runs still
# work, each paying for its first write again.
try:
    rehearse_write()
except (OSError, duckdb.Error) as exc:
    logging.getLogger("oliai.code_server").warning(
        "The lake write rehearsal failed, run workers start colder: %s", exc
    )

# Without DAGSTER_HOME (a hand-started `oliai code-server`) runs load the instance cold. The
# schema probes' answers outlive the instance: every worker starts knowing them.
if "DAGSTER_HOME" in os.environ:
    with DagsterInstance.from_ref(InstanceRef.from_dir(os.environ["DAGSTER_HOME"])) as instance:
        ask_schema_probes(instance)
