"""Why a contender is as fast as it is: the machine's matmul speed, the encoder's share of it,
and the floor under single-sentence latency.

- ``gflops``: the encoder at ``ENCODER_SHAPE`` (no padding) against a ``MATMUL_SIZE``³ matmul of
  the same framework, timed alternately in the same worker, in GFLOP/s (FLOPs from
  ``encoder_flops``).
- ``*_projection_floor``: the encoder's projection matmuls alone (q, k, v, attention output and
  the two feed-forward matmuls of every layer, with bias, each feeding the next) on one text of
  a set's median token count: what single-sentence latency cannot go below in that framework.
  For TensorFlow the same chain also runs as an in-graph int8 encoder would run it (see
  ``int8_chain``), on one text and on ``BATCH_TEXTS`` texts' worth of rows: whether TensorFlow's
  int8 kernels could pay for such a mode on this CPU.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable

import numpy as np
from timing import interleaved_milliseconds

ENCODER_SHAPE = (32, 128)  # batch x tokens for the achieved-FLOP/s figure
MATMUL_SIZE = 1024  # the machine's large-matmul FLOP/s: a square matmul of this size
BATCH_TEXTS = 32  # texts whose rows the batch form of the projection floor multiplies

Step = tuple[Callable[[], object], float]  # a call to time, and the FLOPs it does


def encoder_flops(batch: int, tokens: int, layers: int, hidden: int, intermediate: int) -> float:
    """Multiply-adds x 2 of the encoder: q/k/v/out and feed-forward projections, plus attention."""
    projections = 4 * hidden * hidden + 2 * hidden * intermediate
    attention = 2 * tokens * hidden  # scores and context, per token and layer
    return 2.0 * batch * tokens * layers * (projections + attention)


def gflops(encoder: Step, matmuls: dict[str, Step], rounds: int = 5) -> dict[str, float]:
    """Median GFLOP/s of the encoder and of large matmuls, timed alternately so noise is shared.

    ``matmuls`` maps a name (``matmul_float32``, ...) to its step; the result has ``encoder``
    and those names.
    """
    steps = {"encoder": encoder, **matmuls}
    seconds: dict[str, list[float]] = {name: [] for name in steps}
    for step, _ in steps.values():
        step()
    for _ in range(rounds):
        for name, (step, _) in steps.items():
            # Repeat the short matmul so each timing spans a similar stretch as the encoder.
            repeats = 1 if name == "encoder" else 8
            start = time.perf_counter()
            for _ in range(repeats):
                step()
            seconds[name].append((time.perf_counter() - start) / repeats)
    return {name: steps[name][1] / float(np.median(seconds[name])) / 1e9 for name in steps}


def median_tokens(token_counts: list[int]) -> int:
    return int(np.median(token_counts))


# --- PyTorch (sentence-transformers) -------------------------------------------------------------


def torch_encoder_step(model, device: str) -> Step:
    """One forward of a sentence-transformers model's encoder at ENCODER_SHAPE, and its FLOPs."""
    import torch

    encoder = model[0].auto_model
    config = encoder.config
    batch, tokens = ENCODER_SHAPE
    input_ids = torch.randint(1000, 20000, (batch, tokens), device=device)
    attention_mask = torch.ones_like(input_ids)

    def step():
        with torch.inference_mode():
            encoder(
                input_ids=input_ids, attention_mask=attention_mask
            ).last_hidden_state.sum().item()

    flops = encoder_flops(
        batch, tokens, config.num_hidden_layers, config.hidden_size, config.intermediate_size
    )
    return step, flops


def torch_matmul_step(dtype: str, device: str) -> Step:
    """One MATMUL_SIZE³ matmul in ``dtype``, and its FLOPs."""
    import torch

    left = torch.randn(MATMUL_SIZE, MATMUL_SIZE, device=device).to(getattr(torch, dtype))
    right = torch.randn(MATMUL_SIZE, MATMUL_SIZE, device=device).to(getattr(torch, dtype))
    return lambda: (left @ right).sum().item(), 2.0 * MATMUL_SIZE**3


def torch_projection_floor(model, texts: list[str], device: str) -> dict:
    """Milliseconds of the projection chain in PyTorch (``nn.Linear``): ``tokens``, ``pytorch``."""
    import torch

    counts = model.tokenize(texts)["attention_mask"].sum(dim=1)  # ids come padded
    tokens = median_tokens(counts.tolist())
    layers = model[0].auto_model.encoder
    linears = [module for module in layers.modules() if isinstance(module, torch.nn.Linear)]
    hidden = torch.randn(tokens, linears[0].in_features, device=device)

    def step():
        with torch.inference_mode():
            rows = hidden
            for linear in linears:  # q, k, v, out, intermediate, output: each feeds the next
                rows = linear(rows)
            rows.sum().item()

    return {"tokens": tokens, **interleaved_milliseconds({"pytorch": step})}


# --- TensorFlow (tfst) ---------------------------------------------------------------------------


def tensorflow_matmul_step(dtype: str) -> Step:
    """One MATMUL_SIZE³ matmul in ``dtype``, and its FLOPs."""
    import tensorflow as tf

    left = tf.cast(tf.random.normal([MATMUL_SIZE, MATMUL_SIZE]), dtype)
    right = tf.cast(tf.random.normal([MATMUL_SIZE, MATMUL_SIZE]), dtype)
    product = tf.function(lambda a, b: tf.reduce_sum(tf.cast(tf.matmul(a, b), tf.float32)))
    return lambda: product(left, right).numpy(), 2.0 * MATMUL_SIZE**3


def tfst_encoder_step(model) -> Step:
    """One forward of a tfst model's encoder at ENCODER_SHAPE, and its FLOPs."""
    import tensorflow as tf

    encoder = model.encoder
    batch, tokens = ENCODER_SHAPE
    features = {
        "input_ids": tf.random.uniform([batch, tokens], 1000, 20000, dtype=tf.int32),
        "attention_mask": tf.ones([batch, tokens], tf.int32),
        "token_type_ids": tf.zeros([batch, tokens], tf.int32),
    }
    run = tf.function(lambda features: encoder(features))
    flops = encoder_flops(
        batch, tokens, encoder.num_layers, encoder.hidden_size, encoder.intermediate_size
    )
    return lambda: run(features).numpy(), flops


def tfst_projection_floor(model, texts: list[str], threads: int) -> dict:
    """The same projections as ``torch_projection_floor``, as tfst's encoder runs them
    (``MatMul + BiasAdd`` in a ``tf.function``, oneDNN), in the TFLite interpreter (XNNPack),
    and as int8 (``int8_chain``); then float32 against int8 on ``BATCH_TEXTS`` times the rows,
    all alternately: ``{"tokens", "tensorflow", "tflite", "tensorflow_int8", "batch_rows",
    "tensorflow_batch", "tensorflow_int8_batch"}``."""
    import tensorflow as tf

    token_counts = model.tokenizer(tf.constant(texts))["attention_mask"]
    tokens = median_tokens(tf.reduce_sum(token_counts, axis=1).numpy().tolist())
    projections = [
        (layer.kernel, layer.bias)
        for block in model.encoder.blocks
        for layer in (
            block.query,
            block.key,
            block.value,
            block.attention_output,
            block.intermediate,
            block.output_dense,
        )
    ]

    def chain(rows, weights):
        for kernel, bias in weights:
            rows = tf.nn.bias_add(tf.matmul(rows, kernel), bias)
        return rows

    spec = tf.TensorSpec([tokens, model.encoder.hidden_size], tf.float32)
    hidden = tf.random.normal(spec.shape)
    batch_hidden = tf.random.normal([BATCH_TEXTS * tokens, model.encoder.hidden_size])
    graph = tf.function(lambda rows: tf.reduce_sum(chain(rows, projections)))
    quantized = [quantize_projection(k.numpy(), b.numpy()) for k, b in projections]
    int8_graph = tf.function(lambda rows: tf.reduce_sum(int8_chain(rows, quantized)))
    constants = [(tf.constant(k.numpy()), tf.constant(b.numpy())) for k, b in projections]
    function = tf.function(lambda rows: chain(rows, constants), input_signature=[spec])
    converter = tf.lite.TFLiteConverter.from_concrete_functions([function.get_concrete_function()])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tf.lite.Interpreter's deprecation notice
        interpreter = tf.lite.Interpreter(model_content=converter.convert(), num_threads=threads)
    interpreter.allocate_tensors()
    source = interpreter.get_input_details()[0]["index"]
    result = interpreter.get_output_details()[0]["index"]
    rows = hidden.numpy()

    def tflite_step():
        interpreter.set_tensor(source, rows)
        interpreter.invoke()
        interpreter.get_tensor(result).sum()

    steps = {"tensorflow": lambda: graph(hidden).numpy(), "tflite": tflite_step}
    if not int8_matmul_is_exact():
        return {"tokens": tokens, **interleaved_milliseconds(steps), "int8_exact": False}
    steps["tensorflow_int8"] = lambda: int8_graph(hidden).numpy()
    batch_steps = {
        "tensorflow_batch": lambda: graph(batch_hidden).numpy(),
        "tensorflow_int8_batch": lambda: int8_graph(batch_hidden).numpy(),
    }
    return {
        "tokens": tokens,
        **interleaved_milliseconds(steps),
        "batch_rows": BATCH_TEXTS * tokens,
        **interleaved_milliseconds(batch_steps, rounds=10),
    }


def int8_matmul_is_exact() -> bool:
    """Whether ``int8_chain``'s matmul gives the exact int32 products on this CPU. Without
    VNNI, oneDNN sums pairs of uint8 x int8 products in 16 bits, which saturate at the
    extremes (255 x 127 x 2 > 32767): its times would then be those of wrong arithmetic."""
    import tensorflow as tf

    rng = np.random.default_rng(0)
    activations = rng.integers(-127, 128, size=(16, 64)).astype(np.int8)
    activations[0] = 127  # the saturating extremes
    kernel = rng.integers(-127, 128, size=(64, 32)).astype(np.int8)
    kernel[:, 0] = 127
    shifted = tf.constant((activations.astype(np.int16) + 128).astype(np.uint8))
    sums = _int8_sums(shifted, *_int8_kernel(kernel))
    expected = activations.astype(np.int64) @ kernel.astype(np.int64)
    return np.array_equal(sums.numpy(), expected)


def _int8_kernel(kernel_int8: np.ndarray) -> tuple:
    """An int8 ``[in, out]`` kernel as ``_int8_sums`` takes it: the kernel as qint8, and the
    int32 correction for activations stored as uint8 = int8 + 128 (128 x each column's sum)."""
    import tensorflow as tf

    correction = (-128 * kernel_int8.astype(np.int64).sum(axis=0)).astype(np.int32)
    return (
        tf.bitcast(tf.constant(kernel_int8), tf.qint8),
        tf.bitcast(tf.constant(correction), tf.qint32),
    )


def _int8_sums(activations_uint8, kernel, correction):
    """The int32 products of int8 activations (stored as uint8 = int8 + 128) and an int8
    kernel, through oneDNN's ``QuantizedMatMulWithBias`` (the correction as its bias)."""
    import tensorflow as tf

    sums, _, _ = tf.raw_ops.QuantizedMatMulWithBias(
        a=tf.bitcast(activations_uint8, tf.quint8),
        b=kernel,
        bias=correction,
        min_a=-128.0,
        max_a=127.0,
        min_b=-127.0,
        max_b=127.0,
        Toutput=tf.qint32,
    )
    return tf.bitcast(sums, tf.int32)


def quantize_projection(kernel: np.ndarray, bias: np.ndarray) -> tuple:
    """A float32 ``[in, out]`` kernel as int8 with one scale per output column (symmetric, as
    ``export_tflite(quantize="int8")`` stores it), for ``int8_chain``: ``(kernel as qint8,
    int32 offset correction, column scales, bias)``."""
    import tensorflow as tf

    scales = np.abs(kernel).max(axis=0) / 127.0
    scales[scales == 0] = 1.0
    kernel_int8 = np.clip(np.round(kernel / scales), -127, 127).astype(np.int8)
    return (*_int8_kernel(kernel_int8), tf.constant(scales.astype(np.float32)), tf.constant(bias))


def int8_chain(rows, quantized):
    """``chain`` with int8 matmuls and int32 sums (oneDNN's ``QuantizedMatMulWithBias``, the
    int8 x int8 matmul core TensorFlow has on CPU), activations quantized per row (token) in the
    graph: the ops an in-graph int8 encoder would add around each projection."""
    import tensorflow as tf

    for kernel, correction, scales, bias in quantized:
        row_scales = tf.maximum(tf.reduce_max(tf.abs(rows), axis=1, keepdims=True), 1e-12) / 127
        activations = tf.cast(tf.round(rows / row_scales) + 128.0, tf.uint8)
        sums = _int8_sums(activations, kernel, correction)
        rows = tf.cast(sums, tf.float32) * row_scales * scales + bias
    return rows
