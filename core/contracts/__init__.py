"""What the API, the code location and the CLI agree on without importing each other: the
Dagster names an import is submitted under, its run tags, and how a run's status maps to an
import's status. Plain Python, no Dagster import."""

LOCATION_NAME = "oliai"  # the Dagster code location, as workspace.yaml names it
IMPORT_JOB = "import_contacts"  # the job that processes one accepted import
