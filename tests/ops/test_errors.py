"""Bad input: each case raises ``ValueError``/``TypeError`` in Python, naming function, argument and value.

Every row asserts the exception type and that the message contains the
function's name, the argument's name and what was given (value or shapes).
The same errors are raised at trace time under ``jax.jit``: never an XLA
runtime error.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jcnn import ops

f32 = np.float32
X = np.zeros((2, 8, 8, 4), f32)  # (N, H, W, C_in)
W = np.zeros((3, 3, 4, 6), f32)  # (KH, KW, C_in, C_out)
Y = np.zeros((1, 4, 4, 6), f32)  # a conv output for conv_transpose
I32 = np.int32

# (id, call, exception, substrings the message must contain)
CASES = [
    # rank
    ("conv-rank-2", lambda: ops.conv(np.zeros((2, 4), f32), W), ValueError, ["conv", "x", "(2, 4)", "rank"]),
    ("conv-rank-6", lambda: ops.conv(np.zeros((1, 2, 2, 2, 2, 4), f32), W), ValueError,
     ["conv", "x", "(1, 2, 2, 2, 2, 4)"]),
    ("conv-w-rank", lambda: ops.conv(X, np.zeros((3, 4, 6), f32)), ValueError, ["conv", "w", "(3, 4, 6)", "rank 4"]),
    ("pool-rank", lambda: ops.avg_pool(np.zeros((8, 8), f32), 2), ValueError, ["avg_pool", "x", "(8, 8)"]),
    ("global-rank", lambda: ops.global_max_pool(np.zeros((4,), f32)), ValueError, ["global_max_pool", "x", "(4,)"]),
    ("pointwise-rank", lambda: ops.pointwise_conv(np.zeros((2, 4), f32), np.zeros((4, 2), f32)), ValueError,
     ["pointwise_conv", "x", "(2, 4)"]),
    ("filter2d-rank", lambda: ops.filter2d(np.zeros((1, 8, 8), f32), ops.sobel_x), ValueError,
     ["filter2d", "image", "(1, 8, 8)"]),
    ("filter2d-kernel", lambda: ops.filter2d(np.zeros((8, 8), f32), np.zeros((3, 3, 3), f32)), ValueError,
     ["filter2d", "kernel", "(3, 3, 3)"]),
    # a missing batch dim: the kernel/window sets the rank, so one example is an error, not a wrong answer
    ("pool-unbatched", lambda: ops.max_pool(np.zeros((8, 8, 3), f32), 2), ValueError,
     ["max_pool", "x (8, 8, 3)", "lacks the batch dim", "x[None]"]),
    ("avg-pool-unbatched", lambda: ops.avg_pool(np.zeros((8, 8, 3), f32), (2, 2)), ValueError,
     ["avg_pool", "x (8, 8, 3)", "lacks the batch dim"]),
    ("argmax-unbatched", lambda: ops.max_pool_with_argmax(np.zeros((8, 8, 3), f32), 2), ValueError,
     ["max_pool_with_argmax", "x (8, 8, 3)", "lacks the batch dim"]),
    ("pool-1d-needs-a-per-dim-window", lambda: ops.max_pool(np.zeros((2, 8, 3), f32), 2), ValueError,
     ["max_pool", "window=2", "2-D", "window=(2,)"]),
    ("pool-3d-needs-a-per-dim-window", lambda: ops.avg_pool(np.zeros((2, 4, 4, 4, 3), f32), 2), ValueError,
     ["avg_pool", "(2, 4, 4, 4, 3)", "window=(2, 2, 2)"]),
    ("pool-ranks-disagree", lambda: ops.max_pool(X, (2, 2), stride=(1, 1, 1)), ValueError,
     ["max_pool", "window=(2, 2)", "stride=(1, 1, 1)", "disagree"]),
    ("global-unbatched", lambda: ops.global_avg_pool(np.zeros((8, 8, 3), f32)), ValueError,
     ["global_avg_pool", "x (8, 8, 3)", "lacks the batch dim"]),
    ("global-spatial-dims", lambda: ops.global_max_pool(X, spatial_dims=4), ValueError,
     ["global_max_pool", "spatial_dims=4"]),
    ("conv-unbatched", lambda: ops.conv(np.zeros((8, 8, 4), f32), W), ValueError,
     ["conv", "x (8, 8, 4)", "lacks the batch dim", "(3, 3, 4, 6)"]),
    ("conv-transpose-unbatched", lambda: ops.conv_transpose(np.zeros((4, 4, 6), f32), W), ValueError,
     ["conv_transpose", "y (4, 4, 6)", "lacks the batch dim"]),
    ("conv-grads-unbatched", lambda: ops.conv_grads(np.zeros((8, 8, 4), f32), W, np.zeros((6, 6, 6), f32)),
     ValueError, ["conv_grads", "x (8, 8, 4)", "lacks the batch dim"]),
    ("filter2d-unbatched", lambda: ops.filter2d(np.zeros((8, 8, 3), f32), ops.sobel_x), ValueError,
     ["filter2d", "image", "(8, 8, 3)", "image[None]"]),
    ("standardize-unbatched", lambda: ops.standardize_images(np.zeros((8, 8, 3), np.uint8), mean=0.5, std=0.5),
     ValueError, ["standardize_images", "images (8, 8, 3)", "lacks the batch dim"]),
    ("conv-w-not-array", lambda: ops.conv(X, [[1.0]]), TypeError, ["conv", "w", "list"]),
    # channels and groups
    ("conv-channels", lambda: ops.conv(X, np.zeros((3, 3, 3, 6), f32)), ValueError,
     ["conv", "C_in=3", "4 channels", "(2, 8, 8, 4)", "(3, 3, 3, 6)"]),
    ("conv-transpose-channels", lambda: ops.conv_transpose(np.zeros((1, 4, 4, 4), f32), W), ValueError,
     ["conv_transpose", "y", "C_out=6", "(1, 4, 4, 4)", "(3, 3, 4, 6)"]),
    ("conv-groups-x", lambda: ops.conv(np.zeros((2, 8, 8, 6), f32), np.zeros((3, 3, 1, 4), f32), groups=4),
     ValueError, ["conv", "groups=4", "(2, 8, 8, 6)"]),
    ("conv-groups-c-out", lambda: ops.conv(X, np.zeros((3, 3, 2, 3), f32), groups=2), ValueError,
     ["conv", "groups=2", "C_out=3"]),
    ("conv-groups-zero", lambda: ops.conv(X, W, groups=0), ValueError, ["conv", "groups=0", "positive"]),
    ("dense-c-in", lambda: ops.dense(X, np.zeros((3, 2), f32)), ValueError, ["dense", "C_in=3", "(2, 8, 8, 4)"]),
    ("dense-w-rank", lambda: ops.dense(X, np.zeros(4, f32)), ValueError, ["dense", "w", "(4,)"]),
    ("pointwise-c-in", lambda: ops.pointwise_conv(X, np.zeros((3, 2), f32)), ValueError,
     ["pointwise_conv", "C_in=3", "(3, 2)"]),
    ("batch-norm-mean", lambda: ops.batch_norm(X, np.zeros(3, f32), np.ones(4, f32)), ValueError,
     ["batch_norm", "mean", "(3,)", "(4,)"]),
    # non-positive stride / dilation / window, wrong lengths, wrong types
    ("conv-stride-zero", lambda: ops.conv(X, W, stride=(2, 0)), ValueError, ["conv", "stride=(2, 0)", "positive"]),
    ("conv-stride-length", lambda: ops.conv(X, W, stride=(1, 2, 3)), ValueError, ["conv", "stride=(1, 2, 3)", "2"]),
    ("conv-stride-str", lambda: ops.conv(X, W, stride="2"), TypeError, ["conv", "stride='2'"]),
    ("conv-stride-float", lambda: ops.conv(X, W, stride=1.5), TypeError, ["conv", "stride=1.5"]),
    ("conv-dilation-negative", lambda: ops.conv(X, W, dilation=-1), ValueError, ["conv", "dilation=-1", "positive"]),
    ("pool-window-zero", lambda: ops.max_pool(X, 0), ValueError, ["max_pool", "window=0", "positive"]),
    ("pool-window-length", lambda: ops.max_pool(X, (2, 2, 2)), ValueError, ["max_pool", "window=(2, 2, 2)"]),
    ("pool-stride-zero", lambda: ops.avg_pool(X, 2, stride=0), ValueError, ["avg_pool", "stride=0"]),
    ("pool-dilation-zero", lambda: ops.max_pool(X, 2, dilation=0), ValueError, ["max_pool", "dilation=0"]),
    ("lrn-size", lambda: ops.lrn(X, size=0), ValueError, ["lrn", "size=0", "positive"]),
    ("size-stride", lambda: ops.conv_output_size(8, 3, stride=0), ValueError, ["conv_output_size", "stride=0"]),
    ("size-n", lambda: ops.conv_output_size(0, 1), ValueError, ["conv_output_size", "n=0"]),
    ("gaussian-k", lambda: ops.gaussian(0, 1.0), ValueError, ["gaussian", "k=0"]),
    ("gaussian-sigma", lambda: ops.gaussian(3, 0), ValueError, ["gaussian", "sigma=0"]),
    ("box-k", lambda: ops.box(-1), ValueError, ["box", "k=-1"]),
    ("batch-norm-eps", lambda: ops.batch_norm(X, np.zeros(4, f32), np.ones(4, f32), eps=0), ValueError,
     ["batch_norm", "eps=0"]),
    # padding
    ("conv-padding-negative", lambda: ops.conv(X, W, padding=-1), ValueError, ["conv", "padding=-1", "non-negative"]),
    ("conv-padding-negative-pair", lambda: ops.conv(X, W, padding=((1, -1), (0, 0))), ValueError,
     ["conv", "padding=((1, -1), (0, 0))", "non-negative"]),
    ("conv-padding-malformed", lambda: ops.conv(X, W, padding=((1, 2, 3), (0, 0))), TypeError,
     ["conv", "padding=((1, 2, 3), (0, 0))", "(lo, hi)"]),
    ("conv-padding-length", lambda: ops.conv(X, W, padding=(1, 1, 1)), TypeError, ["conv", "padding=(1, 1, 1)"]),
    ("conv-padding-bool", lambda: ops.conv(X, W, padding=True), TypeError, ["conv", "padding=True"]),
    ("conv-padding-unknown", lambda: ops.conv(X, W, padding="full"), ValueError,
     ["conv", "padding='full'", "'same'", "'valid'"]),
    ("pool-padding-unknown", lambda: ops.avg_pool(X, 2, padding="bogus"), ValueError, ["avg_pool", "padding='bogus'"]),
    ("size-padding-unknown", lambda: ops.conv_output_size(8, 3, padding="full"), ValueError,
     ["conv_output_size", "padding='full'"]),
    # output below 1
    ("conv-output-empty", lambda: ops.conv(np.zeros((1, 2, 2, 4), f32), W), ValueError,
     ["conv", "spatial size 2", "kernel 3", "(1, 2, 2, 4)", "(3, 3, 4, 6)"]),
    ("conv-output-empty-dilated", lambda: ops.conv(X, W, dilation=4), ValueError, ["conv", "kernel 9", "dilation=4"]),
    ("pool-output-empty", lambda: ops.max_pool(np.zeros((1, 3, 3, 1), f32), 5), ValueError,
     ["max_pool", "spatial size 3", "window 5", "(1, 3, 3, 1)"]),
    ("conv-transpose-output-empty", lambda: ops.conv_transpose(np.zeros((1, 1, 1, 6), f32), W, padding=2),
     ValueError, ["conv_transpose", "padding", "(1, 1, 1, 6)"]),
    ("size-output-empty", lambda: ops.conv_output_size(3, 5), ValueError,
     ["conv_output_size", "length 3", "kernel 5"]),
    ("transpose-size-output-empty", lambda: ops.conv_transpose_output_size(1, 1, padding=1), ValueError,
     ["conv_transpose_output_size", "padding (1, 1)"]),
    # dtypes
    ("conv-int", lambda: ops.conv(X.astype(I32), W), TypeError, ["conv", "x", "int32", "(2, 8, 8, 4)", "floating"]),
    ("conv-complex", lambda: ops.conv(X.astype(np.complex64), W), TypeError, ["conv", "x", "complex64"]),
    ("conv-bool-w", lambda: ops.conv(X, W.astype(bool)), TypeError, ["conv", "w", "bool"]),
    ("conv-grads-int-dy", lambda: ops.conv_grads(X, W, np.zeros((2, 6, 6, 6), I32)), TypeError,
     ["conv_grads", "dy", "int32"]),
    ("max-pool-int", lambda: ops.max_pool(X.astype(I32), 2), TypeError, ["max_pool", "x", "int32"]),
    ("avg-pool-bool", lambda: ops.avg_pool(X.astype(bool), 2), TypeError, ["avg_pool", "x", "bool"]),
    ("global-avg-int", lambda: ops.global_avg_pool(X.astype(I32)), TypeError, ["global_avg_pool", "int32"]),
    ("argmax-int", lambda: ops.max_pool_with_argmax(X.astype(I32), 2), TypeError, ["max_pool_with_argmax", "int32"]),
    ("lrn-int", lambda: ops.lrn(X.astype(I32)), TypeError, ["lrn", "x", "int32"]),
    ("batch-norm-int", lambda: ops.batch_norm(X.astype(I32), np.zeros(4, f32), np.ones(4, f32)), TypeError,
     ["batch_norm", "x", "int32"]),
    ("batch-moments-complex", lambda: ops.batch_moments(X.astype(np.complex64)), TypeError,
     ["batch_moments", "complex64"]),
    ("dense-int", lambda: ops.dense(X.astype(I32), np.zeros((4, 2), f32)), TypeError, ["dense", "x", "int32"]),
    # output_padding
    ("conv-transpose-output-padding", lambda: ops.conv_transpose(Y, W, stride=2, output_padding=2), ValueError,
     ["conv_transpose", "output_padding=2", "stride=(2, 2)"]),
    ("conv-transpose-output-padding-stride-1", lambda: ops.conv_transpose(Y, W, output_padding=1), ValueError,
     ["conv_transpose", "output_padding=1", "stride"]),
    ("conv-transpose-output-padding-same", lambda: ops.conv_transpose(Y, W, stride=2, padding="same",
                                                                      output_padding=1),
     ValueError, ["conv_transpose", "output_padding=1", "'same'"]),
    ("transpose-size-output-padding", lambda: ops.conv_transpose_output_size(4, 3, stride=2, output_padding=2),
     ValueError, ["conv_transpose_output_size", "output_padding=2", "stride=2"]),
    ("transpose-size-output-padding-same",
     lambda: ops.conv_transpose_output_size(4, 3, stride=2, padding="same", output_padding=1),
     ValueError, ["conv_transpose_output_size", "output_padding=1", "'same'"]),
    ("transpose-size-output-padding-negative",
     lambda: ops.conv_transpose_output_size(4, 3, stride=2, output_padding=-1), ValueError,
     ["conv_transpose_output_size", "output_padding=-1"]),
    # bias shapes
    ("conv-bias", lambda: ops.conv(X, W, np.zeros(5, f32)), ValueError, ["conv", "b", "(6,)", "(5,)"]),
    ("conv-transpose-bias", lambda: ops.conv_transpose(Y, W, np.zeros(6, f32)), ValueError,
     ["conv_transpose", "b", "(4,)", "(6,)"]),
    ("dense-bias", lambda: ops.dense(X, np.zeros((4, 2), f32), np.zeros(3, f32)), ValueError,
     ["dense", "b", "(2,)", "(3,)"]),
    # conv_grads dy
    ("conv-grads-dy-shape", lambda: ops.conv_grads(X, W, np.zeros((2, 5, 5, 6), f32)), ValueError,
     ["conv_grads", "dy", "(2, 6, 6, 6)", "(2, 5, 5, 6)", "(2, 8, 8, 4)"]),
    # max_unpool
    ("unpool-switches-shape",
     lambda: ops.max_unpool(np.zeros((2, 4, 4, 4), f32), np.zeros((2, 4, 3, 4), I32), output_shape=(8, 8)),
     ValueError, ["max_unpool", "switches", "(2, 4, 3, 4)", "(2, 4, 4, 4)"]),
    ("unpool-switches-float",
     lambda: ops.max_unpool(np.zeros((2, 4, 4, 4), f32), np.zeros((2, 4, 4, 4), f32), output_shape=(8, 8)),
     TypeError, ["max_unpool", "switches", "float32"]),
    ("unpool-output-shape-too-small", lambda: ops.max_unpool(*ops.max_pool_with_argmax(X, 2), output_shape=(3, 3)),
     ValueError, ["max_unpool", "switches", "output_shape=(2, 3, 3, 4)", "9 positions"]),
    ("unpool-output-shape-str", lambda: ops.max_unpool(*ops.max_pool_with_argmax(X, 2), output_shape="8x8"),
     TypeError, ["max_unpool", "output_shape='8x8'"]),
    ("unpool-output-shape-batch",
     lambda: ops.max_unpool(np.zeros((2, 4, 4, 4), f32), np.zeros((2, 4, 4, 4), I32), output_shape=(3, 8, 8, 4)),
     ValueError, ["max_unpool", "output_shape=(3, 8, 8, 4)", "(2, 4, 4, 4)"]),
    ("unpool-output-shape-rank",
     lambda: ops.max_unpool(np.zeros((2, 4, 4, 4), f32), np.zeros((2, 4, 4, 4), I32), output_shape=(8,)),
     ValueError, ["max_unpool", "output_shape=(8,)"]),
]


@pytest.mark.parametrize("call, exc, needles", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_input_raises_a_named_error(call, exc, needles):
    with pytest.raises(exc) as info:
        call()
    assert type(info.value) is exc  # not a subclass such as an XLA error
    for needle in needles:
        assert needle in str(info.value), f"{needle!r} missing from: {info.value}"


# Under jit the arrays are tracers: the checks must still run in Python, on static shapes and dtypes.
JIT_CASES = [
    ("conv-channels", lambda x: ops.conv(x, np.zeros((3, 3, 3, 6), f32)), X, ValueError, "C_in=3"),
    ("conv-stride", lambda x: ops.conv(x, W, stride=(2, 0)), X, ValueError, "stride=(2, 0)"),
    ("conv-padding", lambda x: ops.conv(x, W, padding="full"), X, ValueError, "padding='full'"),
    ("conv-output-empty", lambda x: ops.conv(x, W, dilation=4), X, ValueError, "dilation=4"),
    ("conv-int", lambda x: ops.conv(x, W), X.astype(I32), TypeError, "int32"),
    ("conv-bias", lambda x: ops.conv(x, W, jnp.zeros(5)), X, ValueError, "(5,)"),
    ("conv-transpose-output-padding", lambda y: ops.conv_transpose(y, W, stride=2, output_padding=3), Y,
     ValueError, "output_padding=3"),
    ("conv-grads-dy", lambda x: ops.conv_grads(x, W, jnp.zeros((2, 5, 5, 6))), X, ValueError, "(2, 5, 5, 6)"),
    ("max-pool-window", lambda x: ops.max_pool(x, 0), X, ValueError, "window=0"),
    ("avg-pool-empty", lambda x: ops.avg_pool(x, 9), X, ValueError, "window 9"),
    ("unpool-switches", lambda y: ops.max_unpool(y, jnp.zeros((2, 4, 3, 4), jnp.int32), output_shape=(8, 8)),
     np.zeros((2, 4, 4, 4), f32), ValueError, "(2, 4, 3, 4)"),
    ("lrn-size", lambda x: ops.lrn(x, size=-1), X, ValueError, "size=-1"),
    ("batch-norm-var", lambda x: ops.batch_norm(x, jnp.zeros(4), jnp.ones(5)), X, ValueError, "var"),
    ("dense-c-in", lambda x: ops.dense(x, jnp.zeros((5, 2))), X, ValueError, "C_in=5"),
]


@pytest.mark.parametrize("fn, arg, exc, needle", [c[1:] for c in JIT_CASES], ids=[c[0] for c in JIT_CASES])
def test_errors_are_raised_at_trace_time_under_jit(fn, arg, exc, needle):
    with pytest.raises(exc) as info:
        jax.jit(fn)(arg)
    assert type(info.value) is exc
    assert not isinstance(info.value, jax.errors.JaxRuntimeError)
    assert needle in str(info.value)
    assert "XlaRuntimeError" not in str(info.value) and "JaxRuntimeError" not in str(info.value)
    # And no compile happened: tracing alone raises it.
    with pytest.raises(exc):
        jax.make_jaxpr(fn)(arg)
