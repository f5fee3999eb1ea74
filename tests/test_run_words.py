"""What a running run trains is said in words in the session's language, not as the CLI's shorthand."""

from __future__ import annotations

import pytest

from fmnist.config import TrainConfig
from ui import i18n
from ui.train.model_view import run_in_words

SEED = TrainConfig(hidden=(256,), activation="relu", optimizer="sgd", lr=0.01, batch_size=64, epochs=20,
                   schedule="constant")


def test_english_says_the_run_in_words():
    assert run_in_words(SEED) == ("a 784-256-10 network (relu) trained by sgd at learning rate 0.01 (constant), "
                                  "batches of 64, for 20 epochs")
    assert run_in_words(SEED.replace(batch_norm=True, dropout=0.2)).endswith("(Batch norm, Dropout 0.2)")


def test_korean_says_the_run_in_korean_words(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(i18n, "current", lambda: "ko")
    words = run_in_words(SEED.replace(optimizer="momentum", schedule="onecycle", batch_norm=True))
    assert words == ("784-256-10 네트워크(relu), 옵티마이저 모멘텀, 학습률 0.01(원사이클), 배치 크기 64, 20 에포크 "
                     "(배치 정규화)")
    assert SEED.describe() not in words and " bs " not in words and " ep " not in words
    info = i18n._("This run trains **{model}** (seed {seed}, device {device}). Changes in the sidebar apply to the "
                  "next run.", model=words, seed=1, device="cpu")
    assert "을(를)" not in info and "학습하는 모델: **784-256-10 네트워크" in info
