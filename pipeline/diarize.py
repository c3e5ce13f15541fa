"""Who speaks when on a mono recording: two voices told apart from the sound alone.

Nothing is downloaded: the features are MFCCs taken from the log-mel spectrogram that
faster-whisper's own `FeatureExtractor` computes (the DCT is scipy's), and the clustering and
voice models are scikit-learn's::

    speech regions (Silero, already run) -> 1 s windows, 0.5 s apart
    -> MFCC mean and spread per window -> two clusters (Ward)
    -> a Gaussian mixture per cluster, trained on its windows' frames
    -> a log-likelihood ratio per 10 ms frame, smoothed, refitted twice (resegmentation)

`SpeakerTrack.side_of(start_s, end_s)` then says which voice a stretch (a word) belongs to and
how sure that is. Which voice is the agent is not decided here: that takes the words
(pipeline/transcribe/mono.py).

Why these choices: measured on mono mixdowns of the sample calls, frame accuracy was 98.8%
with MFCCs 1-19 below 3.4 kHz (the telephone band; the mel bands above it hold only resampling
noise), against 98.7% with the loudness coefficient c0 as well, which splits one speaker
whose level changes; Ward clustering of windows beat k-means on the worst call (97.0% against
95.8%).

Known limit: a recording with one voice only is still split into two "voices" when its
sound varies enough (a single agent channel split 62/38). A BIC test of one Gaussian against
two on the window statistics was tried to catch that and dropped: one voice and two voices
overlapped (per-window gains 0.3-8.4 for one voice, 1.8-5.4 for two).
"""

from __future__ import annotations

import functools
import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from faster_whisper.feature_extractor import FeatureExtractor
from scipy.fft import dct
from scipy.ndimage import uniform_filter1d
from sklearn.cluster import AgglomerativeClustering
from sklearn.exceptions import ConvergenceWarning
from sklearn.mixture import GaussianMixture
from sklearn.preprocessing import StandardScaler

from pipeline.audio import SAMPLE_RATE, Region, to_float

__all__ = ["SpeakerTrack", "speaker_track"]

#: Feature frames per second (faster-whisper's hop of 160 samples at 16 kHz).
FRAMES_PER_S = 100
# Whisper's 80 mel bands span 0-8 kHz; the first 52 end near 3.4 kHz, the top of the phone band.
_PHONE_BANDS = 52
_MFCCS = 20
_WINDOW = 100  # frames: 1 s, long enough for stable statistics, short enough for one turn
_HOP = 50
# Frames of log-likelihood ratio averaged together: 0.3 s, about a syllable and a half, so one
# odd frame cannot flip a word but a quick "yes" between two turns survives.
_SMOOTH = 30
_MIXTURES = 8
# k-means++ seeding and at most 30 EM steps: a full k-means start and EM to convergence took
# 7x as long (2.9 s against 0.4 s a call on 2 cores) for frame accuracy 98.9% against 98.7%.
_GMM_ITERATIONS = 30
_RESEGMENT_PASSES = 2
# Below this share of the speech a "voice" is a cough, a hold message or line noise: the call
# is one voice.
_MIN_SHARE = 0.05
# Confidence = logistic(gain x mean smoothed log-likelihood ratio): a voice e times likelier
# than the other over a word reads as 88% sure.
_CONFIDENCE_GAIN = 2.0
# Long calls: at most this many windows go into the Ward clustering (its cost is quadratic);
# the rest are placed by the mixtures.
_MAX_WINDOWS = 2_000
# Frames scored per step: bounds memory on an hour-long call.
_BLOCK = 30 * SAMPLE_RATE


@dataclass
class SpeakerTrack:
    """Per 10 ms frame, how much more voice 0 than voice 1 it sounds (log-likelihood ratio).

    `shares` is each voice's share of the speech frames. `two_voices` is False when the call
    holds one voice only (then every stretch is voice 0 with no confidence to speak of).
    """

    llr: np.ndarray
    shares: tuple[float, float]
    two_voices: bool

    def side_of(self, start_s: float, end_s: float) -> tuple[int, float]:
        """(voice 0 or 1, confidence in 0.5..1) for the stretch start_s..end_s."""
        lo = max(int(start_s * FRAMES_PER_S), 0)
        hi = min(max(math.ceil(end_s * FRAMES_PER_S), lo + 1), len(self.llr))
        if not self.two_voices or lo >= hi:
            return 0, 0.5
        score = float(np.mean(self.llr[lo:hi]))
        confidence = 1.0 / (1.0 + math.exp(-abs(score) * _CONFIDENCE_GAIN))
        return (0 if score > 0 else 1), confidence


@functools.lru_cache(maxsize=1)
def _extractor() -> FeatureExtractor:
    return FeatureExtractor(feature_size=80)


def _mfcc(samples: np.ndarray) -> np.ndarray:
    """MFCCs 1-19 of the phone band, (frames, 19) float32, computed 30 s at a time."""
    extractor = _extractor()
    parts = []
    for start in range(0, len(samples), _BLOCK):
        block = to_float(samples[start : start + _BLOCK])
        if len(block) < extractor.n_fft:
            block = np.pad(block, (0, extractor.n_fft - len(block)))
        log_mel = extractor(block, padding=0)[:_PHONE_BANDS]
        parts.append(dct(log_mel, type=2, norm="ortho", axis=0)[1:_MFCCS].T)
    frames = np.concatenate(parts).astype(np.float32)
    return frames[: len(samples) // extractor.hop_length]


def _windows(regions: Sequence[Region], n_frames: int) -> list[tuple[int, int]]:
    windows = []
    for start_s, end_s in regions:
        lo = int(start_s * FRAMES_PER_S)
        hi = min(int(end_s * FRAMES_PER_S), n_frames)
        if hi - lo < 10:
            continue
        if hi - lo <= _WINDOW:
            windows.append((lo, hi))
            continue
        windows.extend((k, min(k + _WINDOW, hi)) for k in range(lo, hi - _HOP, _HOP))
    return windows


def speaker_track(samples: np.ndarray, regions: Sequence[Region]) -> SpeakerTrack | None:
    """Tell the two voices of a mono call apart; None when there is too little speech."""
    features = _mfcc(samples)
    windows = _windows(regions, len(features))
    if len(windows) < 4:
        return None
    speech = np.zeros(len(features), dtype=bool)
    for lo, hi in windows:
        speech[lo:hi] = True
    scaled = StandardScaler().fit(features[speech]).transform(features).astype(np.float32)
    stats = np.array([np.r_[scaled[lo:hi].mean(0), scaled[lo:hi].std(0)] for lo, hi in windows])
    stats = StandardScaler().fit_transform(stats)
    step = max(1, math.ceil(len(windows) / _MAX_WINDOWS))
    labels = np.full(len(windows), -1)
    labels[::step] = AgglomerativeClustering(n_clusters=2, linkage="ward").fit_predict(
        stats[::step]
    )
    llr = np.zeros(len(features), dtype=np.float32)
    for _ in range(_RESEGMENT_PASSES):
        masks = [np.zeros(len(features), dtype=bool) for _ in range(2)]
        for (lo, hi), label in zip(windows, labels, strict=True):
            if label >= 0:
                masks[label][lo:hi] = True
        # Frames claimed by both (overlapping windows at a change of speaker) train neither.
        train = [masks[k] & ~masks[1 - k] for k in range(2)]
        if min(int(t.sum()) for t in train) < 2 * _MIXTURES * 10:
            return SpeakerTrack(llr=llr, shares=(1.0, 0.0), two_voices=False)
        with warnings.catch_warnings():
            # Stopped early on purpose (see _GMM_ITERATIONS): not converged is expected.
            warnings.simplefilter("ignore", ConvergenceWarning)
            models = [
                GaussianMixture(
                    _MIXTURES,
                    covariance_type="diag",
                    reg_covar=1e-3,
                    init_params="k-means++",
                    max_iter=_GMM_ITERATIONS,
                    random_state=0,
                ).fit(scaled[t])
                for t in train
            ]
        raw = (models[0].score_samples(scaled) - models[1].score_samples(scaled)) * speech
        # Averaged over speech frames only: a pause must not carry one voice's evidence
        # into the other's first or last word.
        llr = (
            uniform_filter1d(raw, _SMOOTH)
            / np.maximum(uniform_filter1d(speech * 1.0, _SMOOTH), 1e-3)
        ).astype(np.float32)
        labels = np.array([0 if llr[lo:hi].mean() > 0 else 1 for lo, hi in windows])
    share0 = float(np.mean(llr[speech] > 0))
    two = min(share0, 1 - share0) >= _MIN_SHARE
    return SpeakerTrack(llr=llr, shares=(share0, 1 - share0), two_voices=two)
