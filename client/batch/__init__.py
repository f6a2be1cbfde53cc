"""Large files through the bulk endpoint: batches sent in order, a few ahead of the one awaited,
resumable, exactly once (`oliai import`).

The reference's advice for more than 10,000 contacts (split into batches of 5,000 to 10,000, send
them sequentially, wait for each to finish, chain them from the webhook), as a library:

- the file is streamed (`client.contact_files`), so only one batch is in memory (`source`);
- each batch is POSTed with a deterministic `Idempotency-Key` (a hash of the run's fingerprint
  and the batch number); up to `in_flight` posted batches are awaited oldest first (the service
  applies one organization's imports in acceptance order): polled with backoff, or woken by the
  signed `import.completed` webhook on a local receiver (`receiver`; polling stays as the
  fallback);
- a checkpoint next to the input (`<file>.oliai-checkpoint.json`, `checkpoint`) records every
  finished batch with its import id and counts, and the batches in flight with their keys.
  Re-running the same command skips finished batches and re-attaches to those in flight, so a
  crash at any point never creates a second import of a batch;
- row errors of every batch land in one CSV (`<file>.oliai-errors.csv`, `errors_file`) with the
  row numbers of the original file.

`runner.BatchImporter` runs a file with `options.BatchImportOptions`, and tells its user what
happens through a `reporter.Reporter`; `console` draws that with rich for `oliai import`.
"""
