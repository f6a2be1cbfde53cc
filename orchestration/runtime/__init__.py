"""How the stack runs the code location: the `oliai up` supervisor, the code server with warm
run workers, the run coordinator and the Dagster instance configuration."""
