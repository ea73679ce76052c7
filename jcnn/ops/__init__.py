"""Pure functions: the maths of jcnn, channels-last, on ``jax.lax``.

Activations are ``(N, *spatial, C)`` with 1, 2 or 3 spatial dims; kernels are
``(*K, C_in // groups, C_out)``. Hyperparameters are keyword-only; ``stride``,
``dilation`` and ``window`` take an int or one int per spatial dim; ``padding``
takes an int, per-dim ints, ``(lo, hi)`` pairs, ``'same'`` or ``'valid'``.
"""

from jcnn.ops._conv_impl import conv_impl
from jcnn.ops._onednn import status as onednn_status
from jcnn.ops.adversarial import adversarial_batch, fgsm, pgd
from jcnn.ops.conv import conv, conv_grads, conv_transpose
from jcnn.ops.dropout import dropout
from jcnn.ops.filters import box, filter2d, gaussian, gradient_magnitude, laplacian, sharpen, sobel_x, sobel_y
from jcnn.ops.linear import dense, pointwise_conv
from jcnn.ops.norm import batch_moments, batch_norm, batch_norm_train, lrn, standardize_images
from jcnn.ops.pool import avg_pool, global_avg_pool, global_max_pool, max_pool, max_pool_with_argmax, max_unpool
from jcnn.ops.shapes import conv_output_size, conv_transpose_output_size

__all__ = [
    "adversarial_batch", "fgsm", "pgd",
    "avg_pool", "batch_moments", "batch_norm", "batch_norm_train", "box", "conv", "conv_grads", "conv_impl", "conv_output_size",
    "conv_transpose", "conv_transpose_output_size", "dense", "dropout", "filter2d", "gaussian", "global_avg_pool",
    "global_max_pool", "gradient_magnitude", "laplacian", "lrn", "max_pool", "max_pool_with_argmax",
    "max_unpool", "onednn_status", "pointwise_conv", "sharpen", "sobel_x", "sobel_y", "standardize_images",
]
