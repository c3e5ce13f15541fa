"""Build eval/pii.jsonl from src.txt markup; offsets are computed, never typed."""

import json, re, sys

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
records = []
cur = None
for line in open(sys.argv[1], encoding="utf-8"):
    line = line.rstrip("\n")
    if not line or line.startswith("#"):
        continue
    if line.startswith("=== "):
        cur = {"id": line[4:].strip(), "turns": [], "pii": []}
        records.append(cur)
        continue
    speaker, raw = line.split(": ", 1)
    text, pos, spans = "", 0, []
    for m in MARK.finditer(raw):
        text += raw[pos : m.start()]
        start = len(text)
        text += m.group(2)
        spans.append(
            {"type": TYPES[m.group(1)], "turn": len(cur["turns"]), "start": start, "end": len(text)}
        )
        pos = m.end()
    text += raw[pos:]
    for s in spans:
        assert text[s["start"] : s["end"]] == MARK.findall(raw)[spans.index(s)][1]
    cur["turns"].append({"speaker": speaker, "text": text})
    cur["pii"].extend(spans)
for i, r in enumerate(records):
    r["split"] = "test" if i % 3 == 2 or int(r["id"].split("-")[1]) >= 85 else "dev"
with open(sys.argv[2], "w", encoding="utf-8") as f:
    for r in records:
        f.write(json.dumps(r, ensure_ascii=False) + "\n")
from collections import Counter

print(len(records), Counter(s["type"] for r in records for s in r["pii"]))
asr = sum(1 for r in records if all(t["text"] == t["text"].lower() for t in r["turns"]))
print("asr-style", asr, "test", sum(r["split"] == "test" for r in records))
