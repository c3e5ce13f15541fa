"""The demo data's tooling: `scripted` reads the call scripts, `speech` renders them to telephone
audio, `call_log` writes the month's call log around them, and `build` does all three
(`callqa sample-data`, or `make sample-data`). It needs the dev extra (piper-tts) and a checkout:
the scripts, recordings and call log are this folder's files, not installed package data.
"""
