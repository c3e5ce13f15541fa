"""Caller numbers: UK numbers in any usual format to E.164, then the keyed caller hash.

The clear number never leaves this module and pipeline/calls.py, which calls it at the edge.
"""

from __future__ import annotations

import hmac

import numpy as np
import phonenumbers
import pyarrow as pa
import pyarrow.compute as pc

__all__ = ["hash_caller_numbers"]

_WITHHELD = ("withheld", "anonymous", "private", "unknown", "restricted", "unavailable", "n/a")
#: Characters in a hex SHA-256 digest.
_HEX_DIGEST = 64


def hash_caller_numbers(numbers: pa.Array | pa.ChunkedArray, key: bytes) -> pa.DictionaryArray:
    """HMAC-SHA256 (hex) of each UK-normalised number; null for withheld or invalid ones.

    Dictionary-encoded: each distinct hash is stored once, however often the caller rang.
    """
    # One pass for the distinct numbers and each row's position among them. Every chunk of a
    # chunked result shares one dictionary, so combining them only joins the indices.
    encoded = pc.dictionary_encode(numbers)
    if isinstance(encoded, pa.ChunkedArray):
        encoded = encoded.combine_chunks()
    e164 = pc.dictionary_encode(_normalise_numbers(encoded.dictionary))
    indices = pc.take(e164.indices, encoded.indices)
    unique = e164.dictionary
    del encoded, e164
    # hmac.digest is the one-shot C implementation: ~1 us a number. The hex digests all have
    # the same length, so they go straight into one buffer of the final size, a slice of
    # numbers at a time: no Python string per caller lives beyond its slice.
    text = np.empty(len(unique) * _HEX_DIGEST, np.uint8)
    for first in range(0, len(unique), 200_000):
        part = unique.slice(first, 200_000).to_pylist()
        raw = b"".join(hmac.digest(key, n.encode(), "sha256") for n in part)
        at = first * _HEX_DIGEST
        text[at : at + len(raw) * 2] = np.frombuffer(raw.hex().encode(), np.uint8)
    offsets = np.arange(0, len(text) + 1, _HEX_DIGEST, dtype=np.int64)
    digests = pa.LargeStringArray.from_buffers(
        len(unique), pa.py_buffer(offsets), pa.py_buffer(text)
    )
    return pa.DictionaryArray.from_arrays(indices, digests)


def _normalise_numbers(distinct: pa.Array) -> pa.Array:
    """E.164 strings for UK numbers in any usual format; null for withheld or invalid.

    Called on the distinct values (callers ring more than once), with a vectorised path for
    ordinary UK numbers and `phonenumbers` for anything else.
    """
    raw = pc.utf8_lower(pc.utf8_trim_whitespace(distinct.cast(pa.string())))
    digits = pc.replace_substring_regex(raw, r"[^0-9+]", "")
    digits = pc.replace_substring_regex(digits, r"^(?:\+|00)44(?:0)?", "0")
    digits = pc.replace_substring_regex(digits, r"^44(\d{10})$", "0\\1")
    fast = pc.match_substring_regex(digits, r"^0[1235789]\d{8,9}$")
    e164 = pc.if_else(
        fast,
        pc.binary_join_element_wise("+44", pc.utf8_slice_codeunits(digits, 1), ""),
        pa.scalar(None, pa.string()),
    )
    slow = pc.and_(pc.invert(fast), pc.invert(pc.is_in(raw, value_set=pa.array(_WITHHELD))))
    slow = pc.and_(slow, pc.greater(pc.utf8_length(digits), 0))
    if not pc.any(slow).as_py():
        return e164
    parsed = [_parse_number(text) for text in pc.filter(raw, slow).to_pylist()]
    return pc.replace_with_mask(e164, slow, pa.array(parsed, pa.string()))


def _parse_number(text: str) -> str | None:
    try:
        number = phonenumbers.parse(text, "GB")
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
