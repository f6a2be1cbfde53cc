"""The `import_contacts` job, run in process on a real Dagster instance and a real lake (its
catalog on the session's PostgreSQL server, its files under the test's data directory).

Each test gets its own data directory and catalog database; results are read back into Polars.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import orjson
import polars as pl
import pytest
from dagster import (
    AssetKey,
    DagsterEventType,
    DagsterInstance,
    ExecuteInProcessResult,
    RunsFilter,
)

from core.contracts import IMPORT_JOB, tags
from core.landing import land_request, landing_path
from core.settings import Settings
from core.warehouse import lake
from core.warehouse.writer import SCHEMA_VERSION, TABLES, open_warehouse
from orchestration.assets import WAREHOUSE_TABLES, import_batch
from orchestration.definitions import build_definitions
from orchestration.resources import Warehouse
from tests.lake import location, reading, warehouse_fields

pytestmark = pytest.mark.integration

ORG = "org_acme"
OTHER_ORG = "org_globex"
AUDIENCE = "aud_vip"

# Valid numbers, in E.164, with the way a client might write them.
PRIYA = "+919876543210"
RAVI = "+442079460958"
ANNA = "+4915123456789"
LEO = "+14155552671"

ORDER_BY = {
    "schema_version": "version",
    "contacts": "org_id, phone_number",
    "audience_members": "org_id, audience_id, phone_number",
    "imports": "import_id",
    "import_errors": "import_id, row_index, field",
}


@dataclass
class Importer:
    """Lands request bodies and runs the job on them, like the API and the run queue would."""

    settings: Settings
    instance: DagsterInstance

    def land(self, import_id: str, org_id: str, body: bytes) -> Path:
        return land_request(self.settings.landing_dir, org_id, import_id, body)

    def run(
        self,
        import_id: str,
        org_id: str,
        contacts: list[dict[str, Any]] | None = None,
        audience_id: str | None = None,
        *,
        path: Path | None = None,
        resources: Mapping[str, object] | None = None,
    ) -> ExecuteInProcessResult:
        """Lands `contacts` (unless a `path` is given) and runs the job; never raises on failure.
        `resources` replace the definitions' resources of the same name."""
        if path is None:
            body: dict[str, Any] = {"contacts": contacts}
            if audience_id is not None:
                body["audienceId"] = audience_id
            path = self.land(import_id, org_id, orjson.dumps(body))
        job = build_definitions(self.settings).resolve_job_def(IMPORT_JOB)
        return job.execute_in_process(
            run_config={
                "import_id": import_id,
                "org_id": org_id,
                "landing_path": str(path),
                "audience_id": audience_id,
            },
            instance=self.instance,
            tags={tags.IMPORT_ID: import_id, tags.ORG_ID: org_id},
            raise_on_error=False,
            resources=resources,
        )

    def run_ok(self, *args: Any, **kwargs: Any) -> ExecuteInProcessResult:
        result = self.run(*args, **kwargs)
        assert result.success, _failure_text(result)
        return result

    def run_counts(self, result: ExecuteInProcessResult) -> dict[str, int] | None:
        run = self.instance.get_run_by_id(result.run_id)
        assert run is not None
        return tags.counts_from_tags(run.run_id, run.tags)

    def tables(self) -> dict[str, pl.DataFrame]:
        """Every warehouse table, ordered by its key."""
        with reading(self.settings) as con:
            frames = {
                table: con.sql(f"SELECT * FROM {table} ORDER BY {order}").pl()
                for table, order in ORDER_BY.items()
            }
        return frames

    def contacts(self, org_id: str) -> dict[str, dict[str, Any]]:
        """The organization's contacts by phone: name, language, metadata and import ids."""
        frame = self.tables()["contacts"].filter(pl.col("org_id") == org_id)
        return {
            row["phone_number"]: {
                "name": row["name"],
                "language": row["language"],
                "metadata": json.loads(row["metadata"]),
                "created_import_id": row["created_import_id"],
                "updated_import_id": row["updated_import_id"],
            }
            for row in frame.iter_rows(named=True)
        }

    def imports_row(self, import_id: str) -> dict[str, Any]:
        rows = self.tables()["imports"].filter(pl.col("import_id") == import_id)
        assert rows.height == 1
        return rows.row(0, named=True)

    def assert_one_row_per_contact(self) -> None:
        with reading(self.settings) as con:
            duplicated = con.sql(
                """SELECT org_id, phone_number, count(*) AS n FROM contacts
                   GROUP BY org_id, phone_number HAVING count(*) > 1"""
            ).pl()
        assert duplicated.is_empty(), duplicated


def _failure_text(result: ExecuteInProcessResult) -> str:
    return "\n".join(
        str(event.step_failure_data.error) for event in result.get_step_failure_events()
    )


def _assert_same_tables(
    left: Mapping[str, pl.DataFrame], right: Mapping[str, pl.DataFrame]
) -> None:
    assert left.keys() == right.keys()
    for name in left:
        assert left[name].columns == right[name].columns, name
        assert left[name].rows() == right[name].rows(), name


@pytest.fixture
def importer(lake_settings: Settings) -> Iterator[Importer]:
    with DagsterInstance.ephemeral() as instance:
        yield Importer(lake_settings, instance)


def test_literal_batch_counts_rows_memberships_and_errors(importer: Importer) -> None:
    contacts: list[dict[str, Any]] = [
        # 0: created, spaces and dashes in the number, extra keys become metadata
        {
            "name": "  Priya\u00a0 Sharma ",
            "phoneNumber": "+91 98765-43210",
            "language": "HI-in",
            "city": "Mumbai",
            "tier": "premium",
        },
        # 1: two errors on one row
        {"name": "   ", "phoneNumber": "919876543210"},
        # 2: created
        {"name": "Ravi", "phoneNumber": "+44 (20) 7946.0958", "profile": {"score": 7}},
        # 3: the same number as row 0, written differently: updated, metadata merged
        {"name": "Priya S.", "phoneNumber": "+919876543210", "tier": "gold", "vip": True},
        # 4: one error
        {"name": "Bad Language", "phoneNumber": LEO, "language": "English (US)"},
        # 5: one error, not a string
        {"name": "Anna", "phoneNumber": 4915123456789},
    ]
    result = importer.run_ok("imp_literal", ORG, contacts, AUDIENCE)

    expected = {"total": 6, "created": 2, "updated": 1, "failed": 3, "errorCount": 4, "skipped": 0}
    assert importer.run_counts(result) == expected
    imports_row = importer.imports_row("imp_literal")
    assert {
        "total": imports_row["total"],
        "created": imports_row["created"],
        "updated": imports_row["updated"],
        "failed": imports_row["failed"],
        "errorCount": imports_row["error_count"],
        "skipped": imports_row["skipped"],
    } == expected
    assert imports_row["org_id"] == ORG
    assert imports_row["run_id"] == result.run_id
    assert imports_row["status"] == "COMPLETED_WITH_ERRORS"
    assert imports_row["audience_id"] == AUDIENCE
    assert imports_row["completed_at"] is not None

    assert importer.contacts(ORG) == {
        PRIYA: {
            "name": "Priya S.",
            "language": "hi-IN",
            "metadata": {"city": "Mumbai", "tier": "gold", "vip": True},
            "created_import_id": "imp_literal",
            "updated_import_id": "imp_literal",
        },
        RAVI: {
            "name": "Ravi",
            "language": None,
            "metadata": {"profile": {"score": 7}},
            "created_import_id": "imp_literal",
            "updated_import_id": "imp_literal",
        },
    }
    tables = importer.tables()
    assert tables["audience_members"].select(
        "org_id", "audience_id", "phone_number", "import_id"
    ).rows() == [(ORG, AUDIENCE, RAVI, "imp_literal"), (ORG, AUDIENCE, PRIYA, "imp_literal")]
    assert tables["import_errors"].select(
        "import_id", "org_id", "row_index", "field", "code", "value"
    ).rows() == [
        ("imp_literal", ORG, 1, "name", "empty", "   "),
        ("imp_literal", ORG, 1, "phoneNumber", "missing_plus", "919876543210"),
        ("imp_literal", ORG, 4, "language", "invalid_tag", "English (US)"),
        ("imp_literal", ORG, 5, "phoneNumber", "invalid_type", "4915123456789"),
    ]
    assert tables["import_errors"]["message"].str.len_chars().min() > 0

    # Every warehouse asset's materialization carries the import id and its counts.
    materialized = {
        event.asset_key.to_user_string(): event.metadata
        for event in result.asset_materializations_for_node("import_batch")
        if event.asset_key.to_user_string() != "normalized_contacts"
    }
    assert set(materialized) == {"contacts", "audience_members", "import_errors", "imports"}
    for metadata in materialized.values():
        assert metadata["import_id"].value == "imp_literal"
        assert metadata["created"].value == 2


def test_import_without_errors_or_audience(importer: Importer) -> None:
    result = importer.run_ok("imp_clean", ORG, [{"name": "Leo", "phoneNumber": LEO}])

    assert importer.run_counts(result) == {
        "total": 1,
        "created": 1,
        "updated": 0,
        "failed": 0,
        "errorCount": 0,
        "skipped": 0,
    }
    assert importer.imports_row("imp_clean")["status"] == "COMPLETED"
    tables = importer.tables()
    assert tables["audience_members"].is_empty()
    assert tables["import_errors"].is_empty()


def test_every_row_failing_is_a_failed_import_that_writes_no_contact(importer: Importer) -> None:
    result = importer.run_ok(
        "imp_all_bad", ORG, [{"name": "A", "phoneNumber": "12"}, {"phoneNumber": LEO}], AUDIENCE
    )

    assert importer.run_counts(result) == {
        "total": 2,
        "created": 0,
        "updated": 0,
        "failed": 2,
        "errorCount": 2,
        "skipped": 0,
    }
    assert importer.imports_row("imp_all_bad")["status"] == "FAILED"
    tables = importer.tables()
    assert tables["contacts"].is_empty()
    assert tables["audience_members"].is_empty()
    assert tables["import_errors"]["code"].to_list() == ["missing_plus", "required"]


def test_second_import_merges_newest_wins_and_orgs_stay_apart(importer: Importer) -> None:
    importer.run_ok(
        "imp_1",
        ORG,
        [
            {
                "name": "Priya",
                "phoneNumber": PRIYA,
                "language": "hi-IN",
                "city": "Mumbai",
                "tier": "gold",
                "profile": {"a": 1, "b": 2},
            },
            {"name": "Ravi", "phoneNumber": RAVI, "language": "en-GB", "city": "London"},
        ],
        AUDIENCE,
    )
    created_at = dict(
        importer.tables()["contacts"].select("phone_number", "created_at").iter_rows()
    )
    second = importer.run_ok(
        "imp_2",
        ORG,
        [
            # No language and a blank one: the older language stays.
            {"name": "Priya Sharma", "phoneNumber": "+91 98765 43210", "city": "Pune"},
            {"name": "Anna", "phoneNumber": ANNA, "language": "de"},
            {"name": "Ravi K.", "phoneNumber": RAVI, "language": "  ", "profile": {"c": 3}},
            # A later row of the same request wins over the earlier one.
            {"name": "Priya S.", "phoneNumber": PRIYA, "profile": {"a": 9}, "vip": True},
            {"name": "Ravi Kumar", "phoneNumber": RAVI, "language": "en-IN"},
        ],
        AUDIENCE,
    )
    other_org = importer.run_ok(
        "imp_other",
        OTHER_ORG,
        [{"name": "Someone Else", "phoneNumber": PRIYA, "language": "ta-IN", "team": "red"}],
    )

    # PRIYA and RAVI existed: their 2 + 2 rows update; ANNA is new.
    assert importer.run_counts(second) == {
        "total": 5,
        "created": 1,
        "updated": 4,
        "failed": 0,
        "errorCount": 0,
        "skipped": 0,
    }
    assert importer.run_counts(other_org) == {
        "total": 1,
        "created": 1,
        "updated": 0,
        "failed": 0,
        "errorCount": 0,
        "skipped": 0,
    }
    assert importer.contacts(ORG) == {
        PRIYA: {
            "name": "Priya S.",
            "language": "hi-IN",
            "metadata": {"city": "Pune", "tier": "gold", "profile": {"a": 9}, "vip": True},
            "created_import_id": "imp_1",
            "updated_import_id": "imp_2",
        },
        RAVI: {
            "name": "Ravi Kumar",
            "language": "en-IN",
            "metadata": {"city": "London", "profile": {"c": 3}},
            "created_import_id": "imp_1",
            "updated_import_id": "imp_2",
        },
        ANNA: {
            "name": "Anna",
            "language": "de",
            "metadata": {},
            "created_import_id": "imp_2",
            "updated_import_id": "imp_2",
        },
    }
    assert importer.contacts(OTHER_ORG) == {
        PRIYA: {
            "name": "Someone Else",
            "language": "ta-IN",
            "metadata": {"team": "red"},
            "created_import_id": "imp_other",
            "updated_import_id": "imp_other",
        }
    }
    importer.assert_one_row_per_contact()

    # Memberships are idempotent: the audience holds each phone once, from its first import.
    members = importer.tables()["audience_members"]
    assert sorted(members.select("phone_number", "import_id").rows()) == sorted(
        [(PRIYA, "imp_1"), (RAVI, "imp_1"), (ANNA, "imp_2")]
    )
    # An update keeps when the contact was created and moves updated_at on.
    rows = importer.tables()["contacts"].filter(pl.col("org_id") == ORG)
    for phone, created, updated in rows.select("phone_number", "created_at", "updated_at").rows():
        assert created == created_at.get(phone, created)
        assert updated > created if phone in created_at else updated == created


def test_reprocessing_a_committed_import_changes_nothing(importer: Importer) -> None:
    importer.run_ok(
        "imp_base",
        ORG,
        [
            {"name": "Priya", "phoneNumber": PRIYA, "language": "hi-IN", "city": "Mumbai"},
            {"name": "Ravi", "phoneNumber": RAVI},
        ],
        AUDIENCE,
    )
    body = {
        "contacts": [
            {"name": "Priya S.", "phoneNumber": PRIYA, "tier": "gold"},
            {"name": "Leo", "phoneNumber": "+1 (415) 555-2671", "language": "en-US"},
            {"name": "", "phoneNumber": ANNA},
            {"name": "Leo L.", "phoneNumber": LEO, "score": 1},
            {"name": "Nobody", "phoneNumber": "+999 1234 5678"},
        ],
        "audienceId": AUDIENCE,
    }
    path = importer.land("imp_again", ORG, orjson.dumps(body))
    first = importer.run_ok("imp_again", ORG, audience_id=AUDIENCE, path=path)
    after_first = importer.tables()
    second = importer.run_ok("imp_again", ORG, audience_id=AUDIENCE, path=path)
    after_second = importer.tables()

    expected = {"total": 5, "created": 1, "updated": 2, "failed": 2, "errorCount": 2, "skipped": 0}
    assert importer.run_counts(first) == expected
    assert importer.run_counts(second) == expected
    # Not a row, not a timestamp: the committed write is the truth, and the re-run reports it.
    _assert_same_tables(after_first, after_second)
    assert importer.imports_row("imp_again")["run_id"] == first.run_id
    assert after_second["contacts"].height == 3
    assert after_second["import_errors"].height == 2
    importer.assert_one_row_per_contact()


@pytest.mark.parametrize(
    ("name", "landed"),
    [
        ("missing", None),
        ("truncated JSON", b'{"contacts": [{"name": "Leo", "phoneNu'),
        ("not an object", b'[{"name": "Leo", "phoneNumber": "+14155552671"}]'),
        ("no contacts", b'{"audienceId": "aud_1"}'),
    ],
)
def test_unreadable_landing_file_fails_the_run_and_leaves_the_warehouse_alone(
    importer: Importer, name: str, landed: bytes | None
) -> None:
    importer.run_ok("imp_before", ORG, [{"name": "Priya", "phoneNumber": PRIYA}], AUDIENCE)
    before = importer.tables()
    path = landing_path(importer.settings.landing_dir, ORG, "imp_broken")
    if landed is not None:
        importer.land("imp_broken", ORG, landed)

    result = importer.run("imp_broken", ORG, audience_id=AUDIENCE, path=path)

    assert not result.success, name
    failures = result.get_step_failure_events()
    assert [event.step_key for event in failures] == ["import_batch"]
    description = failures[0].step_failure_data.user_failure_data
    assert description is not None
    assert "imp_broken" in (description.description or "")
    assert str(path) in (description.description or "")
    assert importer.run_counts(result) is None
    _assert_same_tables(before, importer.tables())


def test_failure_inside_the_warehouse_step_rolls_back_everything(importer: Importer) -> None:
    importer.run_ok("imp_before", ORG, [{"name": "Priya", "phoneNumber": PRIYA}], AUDIENCE)
    before = importer.tables()
    written: list[tuple[Any, ...] | None] = []

    class FailingWarehouse(Warehouse):
        """Fails the write at its last moment: inside the transaction, every row written."""

        def before_commit(self, con: duckdb.DuckDBPyConnection) -> None:
            written.append(
                con.execute(
                    """SELECT
                        (SELECT count(*) FROM contacts WHERE updated_import_id = 'imp_doomed'),
                        (SELECT count(*) FROM audience_members WHERE import_id = 'imp_doomed'),
                        (SELECT count(*) FROM import_errors WHERE import_id = 'imp_doomed'),
                        (SELECT count(*) FROM imports WHERE import_id = 'imp_doomed')"""
                ).fetchone()
            )
            raise RuntimeError("disk on fire")

    result = importer.run(
        "imp_doomed",
        ORG,
        [
            {"name": "Priya New", "phoneNumber": PRIYA, "x": 1},
            {"name": "Leo", "phoneNumber": LEO},
            {"name": "", "phoneNumber": ANNA},
        ],
        AUDIENCE,
        resources={"warehouse": FailingWarehouse(**warehouse_fields(importer.settings))},
    )

    # The fault came after the writes: PRIYA updated and LEO created, LEO's membership (PRIYA
    # had one), ANNA's row error and the import's row were all in the transaction.
    assert written == [(2, 1, 1, 1)]
    assert not result.success
    assert [event.step_key for event in result.get_step_failure_events()] == ["import_batch"]
    assert "disk on fire" in _failure_text(result)
    assert importer.run_counts(result) is None
    _assert_same_tables(before, importer.tables())


def test_pause_fault_point_fires_only_for_the_first_write(
    tmp_path: Path, lake_settings: Settings
) -> None:
    """OLIAI_FAULT_PAUSE_IN_WRITE (tests/integration/test_reliability_crashes.py blocks on it):
    once its file exists, writes go through, so a re-execution of the killed run lands."""
    marker = tmp_path / "paused"
    marker.write_text("4242")
    settings = lake_settings.model_copy(update={"fault_pause_in_write": marker})
    with DagsterInstance.ephemeral() as instance:
        importer = Importer(settings, instance)
        importer.run_ok("imp_after_pause", ORG, [{"name": "Leo", "phoneNumber": LEO}])
    assert importer.imports_row("imp_after_pause")["status"] == "COMPLETED"
    assert marker.read_text() == "4242"
    assert sorted(tmp_path.iterdir()) == [tmp_path / "data", marker]


def test_schema_is_created_once_however_often_the_lake_is_opened(
    lake_settings: Settings,
) -> None:
    for _ in range(3):
        with open_warehouse(location(lake_settings)) as con:
            versions = con.sql("SELECT version FROM schema_version").fetchall()
            tables = con.sql(
                "SELECT table_name FROM information_schema.tables "
                "WHERE table_catalog = 'lake' ORDER BY table_name"
            ).fetchall()
    assert versions == [(SCHEMA_VERSION,)]
    assert [name for (name,) in tables] == [
        "audience_members",
        "contacts",
        "import_errors",
        "import_revert_kept",
        "import_reverts",
        "imports",
        "legacy_migrations",
        "schema_version",
    ]


# `imports` as lake schema version 1 made it, before the import options' columns.
IMPORTS_V1 = """CREATE TABLE imports (
    import_id VARCHAR NOT NULL, org_id VARCHAR NOT NULL, run_id VARCHAR NOT NULL,
    status VARCHAR NOT NULL, total INTEGER NOT NULL, created INTEGER NOT NULL,
    updated INTEGER NOT NULL, failed INTEGER NOT NULL, error_count INTEGER NOT NULL,
    audience_id VARCHAR, completed_at TIMESTAMPTZ NOT NULL, sequence BIGINT)"""
# Version 2 added those; version 3 the phone's type and region (contacts) and their counts.
IMPORTS_V2 = IMPORTS_V1.replace(
    "sequence BIGINT)",
    "sequence BIGINT, skipped INTEGER DEFAULT 0, mode VARCHAR DEFAULT 'upsert', "
    "default_country VARCHAR)",
)
CONTACTS_V2 = TABLES["contacts"].replace(
    ",\n        phone_type VARCHAR,\n        phone_region VARCHAR\n", "\n"
)


def _make_lake(settings: Settings, version: int, imports: str, *rows: str) -> None:
    """A lake with the tables `version` made (contacts and imports as given) and `rows`."""
    con = lake.connect(location(settings))
    try:
        with lake.transaction(con):
            for name, statement in TABLES.items():
                con.execute({"imports": imports, "contacts": CONTACTS_V2}.get(name, statement))
            con.execute("INSERT INTO schema_version VALUES (?)", [version])
            for row in rows:
                con.execute(row, [ORG])
    finally:
        con.close()


def test_a_version_1_lake_is_brought_to_this_version_once_and_keeps_its_rows(
    importer: Importer,
) -> None:
    _make_lake(
        importer.settings,
        1,
        IMPORTS_V1,
        "INSERT INTO imports VALUES ('imp_old', ?, 'run', 'COMPLETED', 2, 1, 1, 0, 0, "
        "NULL, now(), 1)",
    )

    importer.run_ok("imp_new", ORG, [{"name": "Leo", "phoneNumber": LEO}])
    with open_warehouse(location(importer.settings)) as con:
        versions = con.sql("SELECT version FROM schema_version ORDER BY version").fetchall()
    assert versions == [(1,), (SCHEMA_VERSION,)]
    imports = importer.tables()["imports"].sort("import_id")
    assert imports.select("import_id", "total", "skipped", "mode", "default_country").rows() == [
        ("imp_new", 1, 0, "upsert", None),
        ("imp_old", 2, 0, "upsert", None),
    ]


def test_a_version_2_lake_gets_phone_types_on_its_contacts_and_counts_on_new_imports(
    importer: Importer,
) -> None:
    _make_lake(
        importer.settings,
        2,
        IMPORTS_V2,
        "INSERT INTO imports VALUES ('imp_old', ?, 'run', 'COMPLETED', 2, 2, 0, 0, 0, "
        "NULL, now(), 1, 0, 'upsert', NULL)",
        *(
            f"""INSERT INTO contacts VALUES (?, '{phone}', 'Old', NULL, '{{}}', now(), now(),
                'imp_old', 'imp_old', 1, NULL, '{{}}', 1, 1)"""
            for phone in (PRIYA, "+18002345678")
        ),
    )

    importer.run_ok(
        "imp_new", ORG, [{"name": "Leo", "phoneNumber": LEO}, {"name": "R", "phoneNumber": RAVI}]
    )
    with open_warehouse(location(importer.settings)) as con:
        versions = con.sql("SELECT version FROM schema_version ORDER BY version").fetchall()
    assert versions == [(2,), (SCHEMA_VERSION,)]
    tables = importer.tables()
    # Filled in for the contacts stored before, as phonenumbers says of each number.
    assert tables["contacts"].select("phone_number", "phone_type", "phone_region").rows() == [
        ("+14155552671", "fixed_line_or_mobile", "US"),
        ("+18002345678", "toll_free", "US"),
        ("+442079460958", "fixed_line", "GB"),
        ("+919876543210", "mobile", "IN"),
    ]
    imports = tables["imports"].select("import_id", "phone_types", "phone_regions").rows()
    assert [(i, t and json.loads(t), r and json.loads(r)) for i, t, r in imports] == [
        ("imp_new", {"fixed_line": 1, "fixed_line_or_mobile": 1}, {"GB": 1, "US": 1}),
        ("imp_old", None, None),
    ]


def test_schema_survives_a_run_and_a_reopen(importer: Importer) -> None:
    importer.run_ok("imp_1", ORG, [{"name": "Leo", "phoneNumber": LEO}])
    with open_warehouse(location(importer.settings)) as con:
        assert con.sql("SELECT count(*) FROM contacts").fetchall() == [(1,)]
    importer.run_ok("imp_2", ORG, [{"name": "Leo", "phoneNumber": LEO}])
    tables = importer.tables()
    assert tables["schema_version"].rows() == [(SCHEMA_VERSION,)]
    assert tables["contacts"].height == 1


def test_runs_are_found_by_import_tag(importer: Importer) -> None:
    first = importer.run_ok("imp_tagged", ORG, [{"name": "Leo", "phoneNumber": LEO}])
    second = importer.run_ok("imp_tagged", ORG, [{"name": "Leo", "phoneNumber": LEO}])
    runs = importer.instance.get_runs(RunsFilter(tags={tags.IMPORT_ID: "imp_tagged"}))
    assert [run.run_id for run in runs] == [second.run_id, first.run_id]
    assert all(run.tags[tags.ORG_ID] == ORG for run in runs)
    events = importer.instance.all_logs(second.run_id, of_type=DagsterEventType.STEP_SUCCESS)
    assert {event.step_key for event in events} == {"import_batch"}


def test_each_table_shows_its_columns_row_count_and_checks(importer: Importer) -> None:
    result = importer.run_ok(
        "imp_facts", ORG, [{"name": "Leo", "phoneNumber": LEO}, {"name": "", "phoneNumber": ANNA}]
    )
    materialized = {
        event.asset_key.to_user_string(): event.materialization.metadata
        for event in result.get_asset_materialization_events()
        if event.asset_key is not None and event.materialization is not None
    }
    assert materialized["contacts"]["dagster/row_count"].value == 1
    assert materialized["import_errors"]["dagster/row_count"].value == 1
    # The columns are on each table's definition, and they are the lake's.
    with open_warehouse(location(importer.settings)) as con:
        lake_columns = con.execute(
            "SELECT table_name, column_name, data_type, is_nullable = 'YES' "
            "FROM information_schema.columns WHERE table_catalog = 'lake' "
            "ORDER BY table_name, ordinal_position"
        ).fetchall()
    specs = {spec.key: spec for spec in import_batch.specs}
    shown = [
        (name, column.name, column.type, column.constraints.nullable)
        for name in ("audience_members", "contacts", "import_errors", "imports")
        for column in specs[AssetKey(name)].metadata["dagster/column_schema"].columns
    ]
    assert shown == [row for row in lake_columns if row[0] in WAREHOUSE_TABLES]
    assert shown[:3] == [
        ("audience_members", "org_id", "VARCHAR", False),
        ("audience_members", "audience_id", "VARCHAR", False),
        ("audience_members", "phone_number", "VARCHAR", False),
    ]
    assert materialized["imports"]["snapshot_id"].value > 0
    checks = {
        (evaluation.asset_key.to_user_string(), evaluation.check_name): evaluation.passed
        for evaluation in result.get_asset_check_evaluations()
    }
    assert checks == {
        ("contacts", "one_row_per_phone"): True,
        ("audience_members", "members_are_contacts"): True,
        ("imports", "counts_add_up"): True,
    }


def test_a_broken_invariant_shows_red_with_its_count(importer: Importer) -> None:
    importer.run_ok("imp_first", ORG, [{"name": "Leo", "phoneNumber": LEO}])
    with open_warehouse(location(importer.settings)) as con:  # a hand-made duplicate
        con.execute("INSERT INTO contacts SELECT * FROM contacts WHERE phone_number = ?", [LEO])
    result = importer.run_ok("imp_second", ORG, [{"name": "Priya", "phoneNumber": PRIYA}])
    (red,) = [e for e in result.get_asset_check_evaluations() if not e.passed]
    assert red.check_name == "one_row_per_phone"
    assert red.metadata["violations"].value == 1
    assert red.metadata["org_id"].value == ORG
