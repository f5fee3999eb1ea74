import numpy as np
import torch
from torch import nn

from fmnist.inspect.explain import first_layer_filters, hidden_features, pca_2d, saliency


def test_first_layer_filters_are_the_strongest_units():
    model = nn.Sequential(nn.Linear(784, 5), nn.ReLU(), nn.Linear(5, 10))
    with torch.no_grad():
        model[0].weight.zero_()
        model[0].weight[3, 10] = 5.0
        model[0].weight[1, 783] = 2.0
    idx, imgs = first_layer_filters(model, k=2)
    assert idx.tolist() == [3, 1] and imgs.shape == (2, 28, 28)
    assert imgs[0, 0, 10] == 5.0 and imgs[1, 27, 27] == 2.0


def test_saliency_points_at_the_pixel_that_decides():
    # Class 4's score reads pixel 100 only; the saliency of class 4 must sit on that pixel.
    model = nn.Sequential(nn.Linear(784, 10, bias=False))
    with torch.no_grad():
        model[0].weight.zero_()
        model[0].weight[4, 100] = 3.0
    x = torch.full((784,), -1.0)
    x[100] = 1.0
    sal = saliency(model, x, target=4)
    assert sal.shape == (28, 28) and np.unravel_index(np.abs(sal).argmax(), sal.shape) == (100 // 28, 100 % 28)
    # Integrated gradients are complete: attributions sum to score(x) - score(baseline) = 3 * 2.
    assert abs(sal.sum() - 6.0) < 1e-4


def test_pca_separates_two_clusters_and_keeps_sign():
    g = torch.Generator().manual_seed(0)
    a = torch.randn(100, 8, generator=g) + 5
    b = torch.randn(100, 8, generator=g) - 5
    feats = torch.cat([a, b])
    coords = pca_2d(feats)
    assert coords.shape == (200, 2)
    assert (np.sign(coords[:100, 0]) != np.sign(coords[100:, 0])).all()
    again = pca_2d(feats, previous=-coords)
    assert np.allclose(again, -coords, atol=1e-4)


def test_hidden_features_feed_the_output_layer(tiny_result, dataset):
    x = dataset.test_images[:50].reshape(50, 784).float() / 127.5 - 1
    h = hidden_features(tiny_result.model, x)
    assert h.shape == (50, 32)
    with torch.no_grad():
        assert torch.allclose(tiny_result.model[-1](h), tiny_result.model(x), atol=1e-5)
