"""The demo data and the tooling that makes it (a checkout's, not part of the installed package).

`scripted` reads the call scripts, `speech` renders them to telephone audio, `call_log` writes
the month's call log around them, and `build` does all three: `python -m sample_data.build`.
"""
