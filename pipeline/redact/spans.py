"""What a piece of personal data is: the ten types of docs/design.md, `PIISpan`, and which type
wins when two overlap."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["NAME_ADDRESS_TYPES", "PII_TYPES", "PRIORITY", "STRUCTURED_TYPES", "PIISpan"]

PII_TYPES = (
    "person_name",
    "address",
    "postcode",
    "phone_number",
    "email",
    "payment_card",
    "bank_account",
    "ni_number",
    "date_of_birth",
    "account_reference",
)
#: Types found by judgement (cue phrases, spaCy, street words): no fixed shape to validate.
NAME_ADDRESS_TYPES = ("person_name", "address")
#: Types with a fixed shape a validator can check.
STRUCTURED_TYPES = tuple(t for t in PII_TYPES if t not in NAME_ADDRESS_TYPES)

# Presidio entity names are the types in upper case, which is also the redaction tag.
# Which type wins when two overlap: validated shapes first, judgement last.
PRIORITY = {
    t: i
    for i, t in enumerate(
        [
            "EMAIL",
            "PAYMENT_CARD",
            "PHONE_NUMBER",
            "NI_NUMBER",
            "POSTCODE",
            "DATE_OF_BIRTH",
            "BANK_ACCOUNT",
            "ACCOUNT_REFERENCE",
            "ADDRESS",
            "PERSON_NAME",
        ]
    )
}


@dataclass(frozen=True)
class PIISpan:
    """One piece of personal data: its type (PII_TYPES), turn index and character span."""

    type: str
    turn: int
    start: int
    end: int
