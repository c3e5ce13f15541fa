"""The errors callqa raises on purpose.

Every one says what went wrong and what to do about it, so the CLI can print it and exit
non-zero without a traceback::

    CallQAError
    ├── CallLogError         the call log cannot be read, or has no usable rows
    ├── AudioError           a recording cannot be decoded (per-call: becomes a status)
    ├── ModelNotFoundError   the Whisper or spaCy weights are not on this machine
    ├── RulePackError        a YAML rule pack in models/ is missing or invalid
    ├── StoreError           the output folder cannot be written or read
    ├── NotifyError          an email cannot be sent (never stops a night)
    └── NightFailedError     the night drew calls and could screen none of them
"""

__all__ = [
    "AudioError",
    "CallLogError",
    "CallQAError",
    "ModelNotFoundError",
    "NightFailedError",
    "NotifyError",
    "RulePackError",
    "StoreError",
]


class CallQAError(Exception):
    """Base of every error callqa raises for a user to act on."""


class CallLogError(CallQAError):
    """The call log cannot be read or holds no usable rows."""


class AudioError(CallQAError):
    """A recording cannot be decoded."""


class ModelNotFoundError(CallQAError):
    """Model weights are not available offline."""


class RulePackError(CallQAError):
    """A rule pack in models/ is missing or invalid."""


class StoreError(CallQAError):
    """The output folder cannot be written or read."""


class NotifyError(CallQAError):
    """An email is misconfigured or the SMTP relay refused or could not be reached."""


class NightFailedError(CallQAError):
    """The nightly run finished but could screen none of the calls it drew (see `runs/`)."""
