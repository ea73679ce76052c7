"""DCGAN (Radford, Metz & Chintala 2016): generator and discriminator, MNIST-sized and 64x64.

The paper's guidelines (section 3): no pooling, strided convolutions in D and
fractionally strided (transposed) ones in G; BatchNorm in both, except G's
output and D's input layer; ReLU in G with tanh at the output; LeakyReLU
(slope 0.2) in D; weights from N(0, 0.02). Every (transposed) convolution is
4x4, stride 2, padding 1, so each doubles (G) or halves (D) the side.

Generator ``dcgan_generator_64`` is Figure 1: z (100) -> project to 4x4x1024
-> 8x8x512 -> 16x16x256 -> 32x32x128 -> 64x64x3. ``dcgan_generator`` is
the same recipe at MNIST size: z (100) -> 7x7x128 -> 14x14x64 -> 28x28x1.
The discriminators mirror them: 28 -> 14x14x64 -> 7x7x128, and
64 -> 32x32x64 -> 16x16x128 -> 8x8x256 -> 4x4x512 (the paper gives no D
widths; these are its reference code's, ndf=64), then "flattened and fed
into a single sigmoid output" -- here the logit, before the sigmoid (use a
sigmoid cross-entropy on it).

Layers followed by BatchNorm have no bias (BN's shift replaces it).
"""

from __future__ import annotations

from flax import nnx

from jcnn import nn, ops
from jcnn.models.registry import register


class Generator(nnx.Module):
    """DCGAN generator: project z -> [4x4/2 transposed conv -> BN -> ReLU]* -> 4x4/2 transposed conv -> tanh.

    Args:
      widths: channels after the projection and after each hidden transposed
        convolution, e.g. (128, 64); the output side is ``base_size * 2**len(widths)``.
      base_size: side of the projected map (7 for 28x28 output, 4 for 64x64).

    Call: ``z`` (N, latent_dim) or (N, 1, 1, latent_dim) -> images (N, S, S, out_channels) in [-1, 1].
    """

    def __init__(self, *, latent_dim=100, out_channels=1, widths=(128, 64), base_size=7, rngs: nnx.Rngs):
        init = "normal_0.02"
        self.latent_dim, self.base_size, self.widths = latent_dim, base_size, tuple(widths)
        self.project = nn.Dense(latent_dim, base_size * base_size * widths[0], use_bias=False, kernel_init=init,
                                rngs=rngs)
        self.bn0 = nn.BatchNorm(widths[0])
        self.relu0 = nn.Activation("relu")
        for i, (cin, cout) in enumerate(zip(widths[:-1], widths[1:]), start=1):
            setattr(self, f"deconv{i}", nn.ConvTranspose(cin, cout, kernel_size=4, stride=2, padding=1,
                                                         use_bias=False, kernel_init=init, rngs=rngs))
            setattr(self, f"bn{i}", nn.BatchNorm(cout))
            setattr(self, f"relu{i}", nn.Activation("relu"))
        self.out = nn.ConvTranspose(widths[-1], out_channels, kernel_size=4, stride=2, padding=1, kernel_init=init,
                                    rngs=rngs)
        self.tanh = nn.Activation("tanh")

    def __call__(self, z):
        if z.ndim == 4:  # (N, 1, 1, latent_dim), the reference code's 1x1 noise map
            z = z.reshape(z.shape[0], -1)
        if z.ndim != 2 or z.shape[-1] != self.latent_dim:
            raise ValueError(f"dcgan Generator: z must be (N, {self.latent_dim}) or (N, 1, 1, {self.latent_dim}), "
                             f"got {tuple(z.shape)}")
        s = self.base_size
        x = self.project(z).reshape(z.shape[0], s, s, self.widths[0])  # (N, s, s, widths[0])
        x = self.relu0(self.bn0(x))
        for i in range(1, len(self.widths)):
            x = getattr(self, f"deconv{i}")(x)  # (N, 2H, 2W, widths[i])
            x = getattr(self, f"relu{i}")(getattr(self, f"bn{i}")(x))
        return self.tanh(self.out(x))  # (N, s * 2**len(widths), ..., out_channels)


class Discriminator(nnx.Module):
    """DCGAN discriminator: [4x4/2 conv -> (BN) -> LeakyReLU(0.2)]* -> flatten -> dense logit.

    Args:
      widths: channels of each convolution, e.g. (64, 128); no BN after the first.
      image_size: side S of the input; the dense layer sees (S / 2**len(widths))^2 * widths[-1] features.

    Call: ``x`` (N, S, S, in_channels) -> logits (N,) (real: positive; ``sigmoid`` gives P(real)).
    """

    def __init__(self, *, in_channels=1, widths=(64, 128), image_size=28, rngs: nnx.Rngs):
        init = "normal_0.02"
        self.depth = len(widths)
        side, cin = image_size, in_channels
        for i, cout in enumerate(widths, start=1):
            setattr(self, f"conv{i}", nn.Conv(cin, cout, kernel_size=4, stride=2, padding=1, use_bias=i == 1,
                                              kernel_init=init, rngs=rngs))
            setattr(self, f"bn{i}", nn.BatchNorm(cout) if i > 1 else None)
            setattr(self, f"lrelu{i}", nn.Activation("leaky_relu"))
            side, cin = ops.conv_output_size(side, 4, stride=2, padding=1), cout  # (N, S/2^i, S/2^i, widths[i-1])
        self.flatten = nn.Flatten()
        self.fc = nn.Dense(side * side * cin, 1, kernel_init=init, rngs=rngs)

    def __call__(self, x):
        for i in range(1, self.depth + 1):
            x = getattr(self, f"conv{i}")(x)
            bn = getattr(self, f"bn{i}")
            x = getattr(self, f"lrelu{i}")(x if bn is None else bn(x))
        return self.fc(self.flatten(x))[:, 0]  # (N,)


_PAPER = "Radford et al. 2016"


@register(input_shape=(1, 1, 100), paper=_PAPER + " (MNIST-sized)",
          notes="z (N, 100) or (N, 1, 1, 100) -> (N, 28, 28, 1) in [-1, 1]; 7x7x128 -> 14x14x64 -> 28x28x1")
def dcgan_generator(*, latent_dim=100, out_channels=1, rngs):
    return Generator(latent_dim=latent_dim, out_channels=out_channels, widths=(128, 64), base_size=7, rngs=rngs)


@register(input_shape=(28, 28, 1), paper=_PAPER + " (MNIST-sized)", mean=(0.5,), std=(0.5,),
          notes="(N, 28, 28, 1) in [-1, 1] -> logits (N,); 14x14x64 -> 7x7x128 -> dense 1")
def dcgan_discriminator(*, in_channels=1, rngs):
    return Discriminator(in_channels=in_channels, widths=(64, 128), image_size=28, rngs=rngs)


@register(input_shape=(1, 1, 100), paper=_PAPER + ", Figure 1",
          notes="z (N, 100) -> (N, 64, 64, 3) in [-1, 1]; 4x4x1024 -> 8x8x512 -> 16x16x256 -> 32x32x128 -> 64x64x3")
def dcgan_generator_64(*, latent_dim=100, out_channels=3, rngs):
    return Generator(latent_dim=latent_dim, out_channels=out_channels, widths=(1024, 512, 256, 128), base_size=4,
                     rngs=rngs)


@register(input_shape=(64, 64, 3), paper=_PAPER + " (reference code's ndf=64)", mean=(0.5, 0.5, 0.5),
          std=(0.5, 0.5, 0.5), notes="(N, 64, 64, 3) in [-1, 1] -> logits (N,); 64-128-256-512 at 32-16-8-4")
def dcgan_discriminator_64(*, in_channels=3, rngs):
    return Discriminator(in_channels=in_channels, widths=(64, 128, 256, 512), image_size=64, rngs=rngs)
