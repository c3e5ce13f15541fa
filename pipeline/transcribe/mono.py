"""Mono turns: words given to the voice they sound like (pipeline/diarize.py), and the voice
that says the agent's phrases named the agent."""

from __future__ import annotations

import itertools
import math
import re

import numpy as np

from pipeline.diarize import SpeakerTrack
from pipeline.transcribe.turns import Stretch, make_turn, merge_close
from pipeline.transcribe.types import Speaker, Turn, Word

__all__ = ["mono_turns"]

# Phrases that give away the speaker on a mono recording. Only phrases one side says in
# nearly every council call; anything else stays "unknown" rather than guessed.
_AGENT_CUES = re.compile(
    r"\b(?:thank(?:s| you) for (?:calling|holding|waiting|your patience)"
    r"|you(?:'re| are) (?:through|speaking) to"
    r"|how (?:can|may) i help|what can i do for you"
    r"|is there anything else|anything else i can (?:help|do)"
    r"|(?:can|could|may) i (?:just )?(?:take|have|get|confirm) (?:your|the first line|the postcode)"
    r"|bear with me|let me (?:just )?(?:check|have a look|look into)"
    r"|i(?:'ll| will) (?:just )?(?:transfer|put you through|pass (?:this|that|you))"
    r"|i can see (?:that|the|your)|on (?:our|the) system"
    r"|council,? [a-z]+ speaking)\b"
)
_CALLER_CUES = re.compile(
    r"\b(?:i(?:'m| am) (?:calling|ringing|phoning) (?:about|because|to|regarding|for)"
    r"|i (?:want|wanted|need|needed) to (?:report|ask|complain|know|find out|pay|apply|check|"
    r"chase|cancel|change|book)"
    r"|i(?:'ve| have) been (?:waiting|trying|told)"
    r"|my (?:bins?|council tax|rent|benefits?|car|house|flat|son|daughter|mum|mother|dad|father)"
    r"|no,? that'?s (?:all|everything|it)|that'?s everything"
    r"|i (?:rang|called|phoned) (?:last|yesterday|before|earlier|twice|three))\b"
)
_GREETING = re.compile(r"\b(?:good (?:morning|afternoon|evening)|hello|council)\b")

# A turn whose voice is this unsure (the mean over its words, 0.5 = a coin toss) stays unknown.
_MIN_VOICE_CONFIDENCE = 0.6
# A single word this unsure, heard inside one fragment between stretches of the other voice,
# goes with its neighbours: a change of speaker and back within one breath is rarer than a
# word that sounds a little unlike its speaker.
_LONE_WORD_CONFIDENCE = 0.8
# How sure the agent/caller decision is, from the balance of phrase evidence between voices:
# none at all leaves only "the agent speaks first" (right on inbound calls, often not outbound).
_ROLE_CONFIDENCE_FIRST_ONLY = 0.6


def _cue_speaker(text: str, first: bool) -> Speaker:
    """The side a phrase in `text` gives away (a greeting counts in the call's first turn)."""
    lowered = text.lower().replace("’", "'")
    agent = bool(_AGENT_CUES.search(lowered)) or (first and bool(_GREETING.search(lowered)))
    caller = bool(_CALLER_CUES.search(lowered))
    if agent and not caller:
        return "agent"
    if caller and not agent:
        return "caller"
    return "unknown"


def mono_turns(
    fragments: list[list[Word]], merge_gap_s: float, track: SpeakerTrack | None = None
) -> list[Turn]:
    """Mono: turns from the two voices (pipeline/diarize.py), named by what each voice says.

    Each word goes to the voice it sounds like, so a fragment is split where the voice
    changes; consecutive stretches of one voice merge into a turn. The voice that says the
    agent's phrases (and not the caller's) is the agent. Without two voices (too little
    speech, or one voice only), turns get a speaker only where a phrase gives it away.
    (Voice pitch was tried first and dropped: the 300-3400 Hz telephone band removes the
    fundamental, and the estimates jumped by octaves.)
    """
    fragments = sorted(fragments, key=lambda f: f[0].start_s)
    if track is None or not track.two_voices:
        return _cue_turns(fragments, merge_gap_s)
    merged = merge_close(_voice_stretches(fragments, track), merge_gap_s)
    agent_voice, role_confidence = _agent_voice(merged)
    turns = []
    for stretch in merged:
        voice_confidence = float(np.mean(stretch.voice_confidences))
        speaker: Speaker = "agent" if stretch.source == agent_voice else "caller"
        if voice_confidence < _MIN_VOICE_CONFIDENCE:
            speaker = "unknown"
        turn = make_turn(speaker, stretch.words)
        turn.speaker_confidence = round(voice_confidence * role_confidence, 3)
        turns.append(turn)
    return turns


def _voice_stretches(fragments: list[list[Word]], track: SpeakerTrack) -> list[Stretch]:
    """Each fragment split where the voice changes, as stretches of one voice."""
    stretches: list[Stretch] = []
    opening: set[int] = set()  # stretches that open a fragment (follow a pause)
    for frag in fragments:
        sides = [track.side_of(w.start_s, w.end_s) for w in frag]
        voices = [v for v, _ in sides]
        for i in range(1, len(frag) - 1):
            if voices[i - 1] == voices[i + 1] != voices[i] and sides[i][1] < _LONE_WORD_CONFIDENCE:
                voices[i] = voices[i - 1]
        first = len(stretches)
        opening.add(first)
        for word, voice, (_, confidence) in zip(frag, voices, sides, strict=True):
            if len(stretches) > first and stretches[-1].source == voice:
                stretches[-1].voice_confidences.append(confidence)
                stretches[-1].words.append(word)
            else:
                stretches.append(Stretch(voice, [word], [confidence]))
    for index, (previous, current) in enumerate(itertools.pairwise(stretches), start=1):
        # Whisper's word times drift towards the next speech: the last word of a question
        # ("...how can I help you?") is often stamped inside the answer, with no pause
        # between. A voice change inside a fragment right after a word that ends a sentence
        # gives that word back to the voice before it.
        words = current.words
        if index not in opening and len(words) > 1 and words[0].text.endswith((".", "?", "!")):
            previous.voice_confidences.append(current.voice_confidences.pop(0))
            previous.words.append(words.pop(0))
    return stretches


def _agent_voice(merged: list[Stretch]) -> tuple[int, float]:
    """Which voice is the agent, and how sure that is: phrase evidence for and against,
    weighted by how sure the voice of each stretch is."""
    balance = 0.0
    for i, stretch in enumerate(merged):
        cue = _cue_speaker(" ".join(w.text for w in stretch.words), first=i == 0)
        if cue != "unknown":
            sign = 1.0 if (cue == "agent") == (stretch.source == 0) else -1.0
            balance += sign * (2 * float(np.mean(stretch.voice_confidences)) - 1)
    if balance:
        return (0 if balance > 0 else 1), 1.0 - 0.5 * math.exp(-abs(balance))
    return merged[0].source, _ROLE_CONFIDENCE_FIRST_ONLY


def _cue_turns(fragments: list[list[Word]], merge_gap_s: float) -> list[Turn]:
    """One turn per pause-separated fragment, a speaker only where a phrase shows it."""
    turns: list[Turn] = []
    for i, frag in enumerate(fragments):
        speaker = _cue_speaker(" ".join(w.text for w in frag), first=i == 0)
        previous = turns[-1] if turns else None
        if (
            previous is not None
            and speaker != "unknown"
            and previous.speaker == speaker
            and frag[0].start_s - previous.end_s < merge_gap_s
        ):
            turns[-1] = make_turn(speaker, previous.words + frag)
        else:
            turns.append(make_turn(speaker, frag))
    for turn in turns:
        # A phrase only one side says is strong evidence, but it is one phrase.
        turn.speaker_confidence = 0.0 if turn.speaker == "unknown" else 0.8
    return turns
