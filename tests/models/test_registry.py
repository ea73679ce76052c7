"""The model registry: one place, lowercase names, close-match errors, every model instantiable."""

import jax
import numpy as np
import pytest
from flax import nnx

import jcnn.models as models
from jcnn.models import registry


def _param_count(model):
    return sum(int(np.prod(v.shape)) for v in jax.tree.leaves(nnx.state(model, nnx.Param)))


def test_names_are_sorted_lowercase_and_globbable():
    names = models.names()
    assert names == sorted(names) and all(n == n.lower() for n in names)
    assert "lenet5" in names and models.names("lenet*") == ["lenet5", "lenet5_modern"]


def test_unknown_name_lists_close_matches():
    with pytest.raises(ValueError, match=r"unknown model 'lenet'.*lenet5"):
        models.create("lenet")


def test_unknown_option_lists_accepted_ones():
    with pytest.raises(ValueError, match=r"unknown option 'activaton'.*activation"):
        models.create("lenet5", activaton="relu")


def test_duplicate_registration_is_an_error():
    with pytest.raises(ValueError, match="already registered"):
        registry.register("lenet5", input_shape=(32, 32, 1))(lambda *, rngs: None)
    with pytest.raises(ValueError, match="lowercase"):
        registry.register("LeNet", input_shape=(32, 32, 1))(lambda *, rngs: None)


def test_create_is_a_pure_function_of_seed():
    a = nnx.state(models.create("lenet5_modern", seed=3), nnx.Param)
    b = nnx.state(models.create("lenet5_modern", seed=3), nnx.Param)
    c = nnx.state(models.create("lenet5_modern", seed=4), nnx.Param)
    jax.tree.map(np.testing.assert_array_equal, a, b)
    assert not np.array_equal(np.asarray(a["conv1"]["kernel"][...]), np.asarray(c["conv1"]["kernel"][...]))


@pytest.mark.parametrize("name", models.names())
def test_every_registered_model_has_metadata_and_builds_abstractly(name):
    meta = models.info(name)
    assert len(meta.input_shape) == 3 and meta.paper
    model = nnx.eval_shape(lambda: models.create(name))
    assert _param_count(model) > 0
    if meta.published_params is not None and meta.num_classes is not None:
        assert _param_count(model) == meta.published_params
