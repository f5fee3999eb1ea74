import numpy as np
import pytest
import torch

from fmnist.inspect.evaluate import evaluate, evaluate_logits


def test_metrics_on_a_hand_made_case():
    # 4 images: true 0,0,1,2; predicted 0,1,1,1.
    labels = torch.tensor([0, 0, 1, 2])
    logits = torch.full((4, 10), -5.0)
    for i, p in enumerate([0, 1, 1, 1]):
        logits[i, p] = 5.0
    ev = evaluate_logits(logits, labels)
    assert ev.accuracy == 50.0
    assert ev.confusion[0, 0] == 1 and ev.confusion[0, 1] == 1 and ev.confusion[1, 1] == 1 and ev.confusion[2, 1] == 1
    assert ev.confusion.sum() == 4
    rows = {r["class"]: r for r in ev.per_class()}
    assert rows["T-shirt/top"]["precision"] == 100.0 and rows["T-shirt/top"]["recall"] == 50.0
    assert rows["Trouser"]["precision"] == pytest.approx(100 / 3) and rows["Trouser"]["recall"] == 100.0
    assert rows["Pullover"]["recall"] == 0.0 and rows["Pullover"]["support"] == 1
    assert ev.class_accuracy[:3] == [50.0, 100.0, 0.0]
    assert ev.predictions.tolist() == [0, 1, 1, 1]
    assert np.allclose(ev.probabilities.sum(1), 1.0)
    expected_loss = torch.nn.functional.cross_entropy(logits, labels).item()
    assert ev.loss == pytest.approx(expected_loss)


def test_evaluate_in_chunks_equals_one_pass(tiny_result, dataset):
    from fmnist.data.dataset import normalize

    x, y = normalize(dataset.test_images), dataset.test_labels
    whole = evaluate(tiny_result.model, x, y, chunk=10_000)
    chunked = evaluate(tiny_result.model, x, y, chunk=777)
    assert whole.accuracy == chunked.accuracy == pytest.approx(tiny_result.test_acc)
    assert (whole.confusion == chunked.confusion).all() and whole.confusion.sum() == 10_000
    assert whole.probabilities.shape == (10_000, 10)
    d = whole.as_dict()
    assert set(d) == {"accuracy", "loss", "per_class", "confusion_matrix"} and len(d["per_class"]) == 10
