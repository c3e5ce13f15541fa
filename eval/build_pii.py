"""Build eval/pii.jsonl from the marked-up eval/pii_source.txt; offsets are computed, never typed.

    python eval/build_pii.py eval/pii_source.txt eval/pii.jsonl

Markup: `=== <id>` starts a transcript, `speaker: text` is a turn, `{TYPE:value}` marks PII.
"""

import json
import re
import sys
from collections import Counter

TYPES = {
    "N": "person_name",
    "A": "address",
    "PC": "postcode",
    "PH": "phone_number",
    "E": "email",
    "CARD": "payment_card",
    "BANK": "bank_account",
    "NI": "ni_number",
    "DOB": "date_of_birth",
    "REF": "account_reference",
}
MARK = re.compile(r"\{([A-Z]+):([^{}]+)\}")


def parse(lines: list[str]) -> list[dict]:
    records: list[dict] = []
    for line in lines:
        line = line.rstrip("\n")
        if not line or line.startswith("#"):
            continue
        if line.startswith("=== "):
            records.append({"id": line[4:].strip(), "turns": [], "pii": []})
            continue
        current = records[-1]
        speaker, raw = line.split(": ", 1)
        text, pos = "", 0
        for match in MARK.finditer(raw):
            text += raw[pos : match.start()]
            start = len(text)
            text += match.group(2)
            current["pii"].append(
                {
                    "type": TYPES[match.group(1)],
                    "turn": len(current["turns"]),
                    "start": start,
                    "end": len(text),
                }
            )
            pos = match.end()
        text += raw[pos:]
        current["turns"].append({"speaker": speaker, "text": text})
    for i, record in enumerate(records):
        late = int(record["id"].split("-")[1]) >= 85
        record["split"] = "test" if i % 3 == 2 or late else "dev"
    return records


def main(source: str, target: str) -> None:
    with open(source, encoding="utf-8") as fh:
        records = parse(fh.readlines())
    with open(target, "w", encoding="utf-8") as fh:
        for record in records:
            fh.write(json.dumps(record, ensure_ascii=False) + "\n")
    print(len(records), Counter(s["type"] for r in records for s in r["pii"]))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
