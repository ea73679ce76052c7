"""jcnn.analysis.erf: the ERF of uniform linear 3x3 stacks is the exact discrete distribution theory gives."""

import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from jcnn import nn
from jcnn.analysis import effective_receptive_field, erf_gaussian_sigma, erf_radius, plot_erf


def uniform_stack(depth, padding=0):
    convs = []
    for _ in range(depth):
        c = nn.Conv(1, 1, kernel_size=3, padding=padding, use_bias=False, rngs=nnx.Rngs(0))
        c.kernel[...] = jnp.full((3, 3, 1, 1), 1 / 9, jnp.float32)
        convs.append(c)
    return nnx.Sequential(*convs)


def theory(depth, size):
    """Outer product of the distribution of a sum of ``depth`` uniform{-1, 0, 1} variables, centred."""
    p = np.array([1.0])
    for _ in range(depth):
        p = np.convolve(p, np.full(3, 1 / 3))
    out = np.zeros((size, size))
    c = size // 2
    out[c - depth:c + depth + 1, c - depth:c + depth + 1] = np.outer(p, p)
    return out


@pytest.mark.parametrize("depth", [1, 2, 3, 5])
def test_linear_uniform_stack_is_exact(depth):
    erf = effective_receptive_field(uniform_stack(depth), (17, 17, 1), samples=2)
    np.testing.assert_allclose(erf, theory(depth, 17), atol=1e-6)
    assert erf.sum() == pytest.approx(1.0)
    assert erf_gaussian_sigma(erf) == pytest.approx(np.sqrt(2 * depth / 3), rel=1e-5)


def test_same_padding_and_channel_selection():
    # 'same' padding keeps the centre unit's ERF away from the border: the same law.
    erf = effective_receptive_field(uniform_stack(3, padding=1), (15, 15, 1), samples=1, channel=0)
    np.testing.assert_allclose(erf, theory(3, 15), atol=1e-6)


def test_radius_grows_with_depth_slower_than_rf():
    radii = [erf_radius(effective_receptive_field(uniform_stack(d), (25, 25, 1), samples=1)) for d in (1, 2, 4, 8)]
    assert all(a < b for a, b in zip(radii, radii[1:])), radii
    sigmas = [np.sqrt(2 * d / 3) for d in (1, 2, 4, 8)]
    assert sigmas[-1] / sigmas[0] == pytest.approx(np.sqrt(8))


def test_callable_model_averages_over_inits_and_layer_by_name():
    def make(seed):
        r = nnx.Rngs(seed)
        return nnx.Sequential(nn.Conv(1, 4, kernel_size=3, padding=1, rngs=r), nn.Activation("relu"),
                              nn.Conv(4, 4, kernel_size=3, padding=1, rngs=r))

    erf = effective_receptive_field(make, (11, 11, 1), samples=3, layer="layers.2")
    assert erf.shape == (11, 11) and erf.sum() == pytest.approx(1.0) and (erf >= 0).all()
    # Nothing outside the 5x5 theoretical receptive field of the centre.
    mask = np.ones((11, 11), bool)
    mask[3:8, 3:8] = False
    assert erf[mask].max() == 0 and erf[5, 5] > 0
    fig = plot_erf(erf)
    assert fig.axes


def test_registered_name_init_seeds_and_reductions():
    # lenet5_modern: 5x5 conv (valid) -> pool -> 5x5 conv: conv2's centre unit sees a 14x14 window (RF 5 + 4*2 + 1).
    runs = [effective_receptive_field("lenet5_modern", None, layer="conv2", samples=1, init_seeds=s) for s in (0, 1)]
    assert not np.allclose(runs[0], runs[1])  # different initialisations
    # Default for a name: run s has init seed (seed + s) and input s; the same as init_seeds=[0, 1], one input each.
    both = effective_receptive_field("lenet5_modern", None, layer="conv2", samples=1, init_seeds=[0, 1])
    np.testing.assert_array_equal(both, effective_receptive_field("lenet5_modern", None, layer="conv2", samples=2))
    ys, xs = np.nonzero(both)
    assert ys.max() - ys.min() + 1 <= 14 and xs.max() - xs.min() + 1 <= 14
    # Linear uniform stack: every run has the same gradient, so all reductions agree.
    m = uniform_stack(2)
    maps = [effective_receptive_field(m, (9, 9, 1), samples=2, reduce=r) for r in ("mean_abs", "abs_mean", "rms")]
    for e in maps[1:]:
        np.testing.assert_allclose(e, maps[0], atol=1e-7)


def test_bad_arguments():
    m = uniform_stack(2)
    with pytest.raises(ValueError, match="valid layers"):
        effective_receptive_field(m, (9, 9, 1), layer="conv9")
    with pytest.raises(ValueError, match="channel=3"):
        effective_receptive_field(m, (9, 9, 1), channel=3)
    with pytest.raises(ValueError, match="in_channels=1"):
        effective_receptive_field(m, (9, 9, 3))
    with pytest.raises(ValueError, match="input_shape"):
        effective_receptive_field(m, (9, 9))
    with pytest.raises(ValueError, match="reduce='median'"):
        effective_receptive_field(m, (9, 9, 1), reduce="median")
    with pytest.raises(ValueError, match="init_seeds"):
        effective_receptive_field(m, (9, 9, 1), init_seeds=[0, 1])
    with pytest.raises(ValueError, match="lenet5"):
        effective_receptive_field("lenet_5", None)
    with pytest.raises(ValueError, match="fraction"):
        erf_radius(np.ones((3, 3)), fraction=0)
