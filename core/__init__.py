"""The shared core the API, the code location and the CLI all use: settings, the contracts between
them, the control store, and the landing and staging files. Imports no other project package."""
