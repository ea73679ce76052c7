"""Live check against torchvision itself, where it imports (the stored logits cover CI without torch).

Random-initialised torchvision models with randomised BatchNorm statistics, converted to jcnn,
give torchvision's eval logits; jcnn's export loads back into torchvision (strict) and gives
the same logits again.
"""

import jax
import numpy as np
import pytest

import _torchvision_reference as ref
import jcnn.models as models
from jcnn.models import weights

torch = pytest.importorskip("torch")
try:
    torchvision = ref.import_torchvision()
except Exception as e:  # noqa: BLE001 -- any import failure means: no live reference here
    pytest.skip(f"torchvision does not import: {e}", allow_module_level=True)


def _randomised(name):
    torch.manual_seed(0)
    model = getattr(torchvision.models, name)().eval()
    g = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.weight.copy_(torch.rand(m.weight.shape, generator=g) + 0.5)
                m.bias.copy_(torch.randn(m.bias.shape, generator=g) * 0.1)
                m.running_mean.copy_(torch.randn(m.running_mean.shape, generator=g) * 0.1)
                m.running_var.copy_(torch.rand(m.running_var.shape, generator=g) + 0.5)
            elif isinstance(m, torch.nn.Conv2d) and m.bias is not None:
                m.bias.copy_(torch.randn(m.bias.shape, generator=g) * 0.1)
    return model


@pytest.mark.parametrize("name", ["resnet18", "vgg11_bn", "mobilenet_v2"])
def test_live_torchvision_logits_and_export(name, tmp_path):
    tv = _randomised(name)
    x = ref.input_images(1)
    with torch.no_grad():
        want = tv(torch.from_numpy(x.transpose(0, 3, 1, 2).copy())).numpy()
    torch.save(tv.state_dict(), tmp_path / f"{name}.pth")
    model = models.create(name, weights=tmp_path / f"{name}.pth")
    model.eval()
    got = np.asarray(jax.jit(lambda v: model(v))(x))
    assert np.abs(got - want).max() / np.abs(want).max() <= 1e-4
    tv.load_state_dict({k: torch.from_numpy(np.array(v)) for k, v in weights.to_torchvision(model, name).items()},
                       strict=True)
    with torch.no_grad():
        again = tv(torch.from_numpy(x.transpose(0, 3, 1, 2).copy())).numpy()
    assert np.abs(again - want).max() / np.abs(want).max() <= 1e-5
