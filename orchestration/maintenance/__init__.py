"""Maintenance of imports already accepted: re-executing their runs and pruning old files."""
