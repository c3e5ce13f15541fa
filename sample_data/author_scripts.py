"""The source of sample_data/scripts/*.yaml and the call table in sample_data/README.md.

Edit the calls here, then run ``.venv/bin/python -m sample_data.author_scripts`` and
``make sample-data`` to re-render. Personal data is marked inline as ``{{type:value|spoken}}``
(or ``{{type:value}}`` when it is said as written); the offsets in the YAML are computed from
these marks, never typed by hand. All of it is invented: drama numbers, test cards, made-up names.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from pipeline.tagging import QA_CHECKS
from sample_data.dialogues import CALLS, Call
from sample_data.scripted import load_scripts

HERE = Path(__file__).resolve().parent

DEMO_DAY = "2025-03-31"
AGENTS = {
    "agent_sarah_k": "revenues",
    "agent_tom_b": "revenues",
    "agent_priya_s": "revenues",
    "agent_dave_m": "revenues",
    "agent_gemma_l": "environment",
    "agent_kwame_o": "environment",
    "agent_lucy_h": "environment",
    "agent_raj_p": "housing",
    "agent_ellen_w": "housing",
    "agent_mark_t": "housing",
    "agent_fiona_c": "people",
    "agent_sam_d": "people",
    "agent_chris_l": "customer_services",
    "agent_anna_r": "customer_services",
    "agent_joe_f": "customer_services",
}
_MARK = re.compile(r"\{\{(\w+):([^|}]+)(?:\|([^}]+))?\}\}")
_TURN = re.compile(r"^(A|C)(?:\(([^)]*)\))?:\s*(.+)$")
_OPTION_KEYS = {"pause": "pause_before_s", "overlap": "overlap_s", "hold": "hold_before_s"}


class _Flow(dict[str, Any]):
    """A mapping YAML writes on one line."""


class _FlowList(list[Any]):
    """A list YAML writes on one line."""


class _Dumper(yaml.SafeDumper):
    pass


_Dumper.add_representer(
    _Flow, lambda d, v: d.represent_mapping("tag:yaml.org,2002:map", v, flow_style=True)
)
_Dumper.add_representer(
    _FlowList, lambda d, v: d.represent_sequence("tag:yaml.org,2002:seq", v, flow_style=True)
)


def _turns(call: Call) -> tuple[list[dict[str, Any]], list[_Flow]]:
    turns: list[dict[str, Any]] = []
    pii: list[_Flow] = []
    for line in call.dialogue.strip().splitlines():
        match = _TURN.match(line.strip())
        if not match:
            raise ValueError(f"{call.name}: cannot read turn {line!r}")
        who, options, marked = match.groups()
        text = ""
        cursor = 0
        for mark in _MARK.finditer(marked):
            kind, value, spoken = mark.group(1), mark.group(2), mark.group(3) or mark.group(2)
            text += marked[cursor : mark.start()]
            start = len(text)
            text += spoken
            pii.append(_Flow(type=kind, turn=len(turns), start=start, end=len(text), value=value))
            cursor = mark.end()
        text += marked[cursor:]
        turn: dict[str, Any] = {"speaker": "agent" if who == "A" else "caller", "text": text}
        for option in filter(None, (options or "").split(",")):
            key, number = option.split("=")
            turn[_OPTION_KEYS[key.strip()]] = float(number)
        turns.append(turn)
    return turns, pii


def _call_ids(calls: list[Call]) -> dict[str, str]:
    """Ids in the day's numbering, roughly where a call at that time would fall."""
    ids: dict[str, str] = {}
    used: set[int] = set()
    for call in sorted(calls, key=lambda c: c.at):
        hours, minutes, _ = (int(p) for p in call.at.split(":"))
        seq = max(1, int(((hours - 8) * 60 + minutes - 30) * 265 / 540))
        while seq in used:
            seq += 1
        used.add(seq)
        ids[call.name] = f"HRW-20250331-{seq:04d}"
    return ids


def _script(call: Call, call_id: str) -> dict[str, Any]:
    script: dict[str, Any] = {
        "name": call.name,
        "call_id": call_id,
        "started_at": f"{DEMO_DAY}T{call.at}",
        "agent_id": call.agent,
        "team": AGENTS[call.agent],
        "queue": call.queue,
        "layout": call.layout,
        "caller_number": call.number,
        "expected_status": call.status,
    }
    if call.status != "ok":
        script["duration_s"] = call.duration_s
        return script
    turns, pii = _turns(call)
    script["turns"] = turns
    script["labels"] = {
        "contact_reasons": _FlowList(call.reasons),
        "primary_reason": call.reasons[0],
        "avoidable": call.avoidable is not None,
        "avoidable_category": call.avoidable,
        "complaint": call.complaint,
        "transferred": call.transferred,
        "qa": _Flow({check: check not in call.fails for check in QA_CHECKS}),
        "pii": pii,
        "repeat_caller": call.repeat,
    }
    return script


def _readme_table(calls: list[Call]) -> str:
    rows = [
        "| name | status | reasons | avoidable | complaint | transferred | QA fails | PII | repeat |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for call in sorted(calls, key=lambda c: c.name):
        pii = sorted({m.group(1) for m in _MARK.finditer(call.dialogue)})
        fails = ", ".join(f.replace("anything_else_offered", "anything_else") for f in call.fails)
        rows.append(
            f"| {call.name} | {call.status}{' (mono)' if call.layout == 'mono' else ''} "
            f"| {', '.join(call.reasons) or '-'} | {call.avoidable or '-'} "
            f"| {'yes' if call.complaint else '-'} | {'yes' if call.transferred else '-'} "
            f"| {fails or '-'} | {', '.join(pii) or '-'} | {'yes' if call.repeat else '-'} |"
        )
    return "\n".join(rows)


def main() -> None:
    folder = HERE / "scripts"
    folder.mkdir(exist_ok=True)
    for stale in folder.glob("*.yaml"):
        stale.unlink()
    ids = _call_ids(CALLS)
    for call in CALLS:
        text = yaml.dump(
            _script(call, ids[call.name]),
            Dumper=_Dumper,
            sort_keys=False,
            allow_unicode=True,
            width=4096,
        )
        (folder / f"{call.name}.yaml").write_text(text, encoding="utf-8")
    load_scripts(folder)  # validates what was just written
    readme = HERE / "README.md"
    marker = "<!-- calls table -->"
    head, _, tail = readme.read_text(encoding="utf-8").partition(marker)
    _, _, rest = tail.partition(marker)
    readme.write_text(f"{head}{marker}\n{_readme_table(CALLS)}\n{marker}{rest}", encoding="utf-8")
    print(f"wrote {len(CALLS)} scripts to {folder}")


if __name__ == "__main__":
    main()
