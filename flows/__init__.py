"""Prefect 3 flows that wire pipeline/ functions into tasks; no logic of their own.

Entry points for the command line (each runs the flow once, now):

- `flows.nightly.run_nightly(calls, recordings, out, *, date, sample_size, seed, task_runner,
  dask_address, settings, show_progress) -> pipeline.report.NightSummary`
- `flows.scrutiny.run_scrutiny_sample(out, start, end, size, pack, *, seed, recordings) -> Path`
- `flows.monthly.run_monthly_report(out, month) -> Path`
- `flows.deploy.deploy(calls, recordings, out, *, settings)` (serves the schedules; blocks)

Modules are imported on demand: importing `flows` itself loads nothing heavy.
"""
