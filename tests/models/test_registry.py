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


# create's own arguments: checked before anything is built, misspellings answered with the right name.
CREATE_SLIPS = [
    (dict(seed=None), TypeError, "create('lenet5'): seed=None must be an int"),
    (dict(seed=1.5), TypeError, "seed=1.5"),
    (dict(seed=-1), ValueError, "seed=-1"),
    (dict(num_clases=10), ValueError, "unknown option 'num_clases'; did you mean 'num_classes'?"),
    (dict(sed=3), ValueError, "did you mean 'seed'?"),
    (dict(num_classes=0), ValueError, "num_classes=0 must be a positive int"),
    (dict(num_classes=True), TypeError, "num_classes=True"),
    (dict(rngs=None), ValueError, "create builds rngs from seed"),
]


@pytest.mark.parametrize("kwargs, exc, needle", CREATE_SLIPS, ids=[str(c[0]) for c in CREATE_SLIPS])
def test_create_argument_slips_are_named(kwargs, exc, needle):
    with pytest.raises(exc) as info:
        models.create("lenet5", **kwargs)
    assert type(info.value) is exc and needle in str(info.value), str(info.value)


def test_create_refuses_num_classes_for_a_model_without_classes_and_a_name_that_is_not_a_string():
    with pytest.raises(ValueError, match=r"create\('dcgan_generator'\): this model has no num_classes option"):
        models.create("dcgan_generator", num_classes=10)
    with pytest.raises(TypeError, match="name=5 must be a registered model name"):
        models.create(5)
