"""The library: every step of screening a call, as plain functions on typed data (no Prefect)."""
