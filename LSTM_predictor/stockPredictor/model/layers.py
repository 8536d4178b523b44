"""The Keras layers the runtime (runtime.py) runs, each as a NumPy function of its inputs.

Every layer ``training/networks.py`` uses has a builder here, which reads its saved config and
weights and returns the function that computes it in float32, as Keras does. A layer class, a
dtype policy or an option that would change the maths and that this module does not know is an
ArtifactError naming the layer: never a silently different forecast.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from ..errors import ArtifactError

Array = np.ndarray
DTYPE = np.float32
LayerFn = Callable[[list], Array]


def _sigmoid(x: Array) -> Array:
    # The tanh form never overflows, unlike 1 / (1 + exp(-x)) for large negative x.
    return 0.5 * (np.tanh(0.5 * x) + 1.0)


_ACTIVATIONS: dict[str, Callable[[Array], Array]] = {
    "linear": lambda x: x,
    "tanh": np.tanh,
    "sigmoid": _sigmoid,
    "relu": lambda x: np.maximum(x, 0.0),
}


class Layer:
    """One layer entry of the saved config, with its weights and where it came from."""

    def __init__(self, entry: dict, weights: list[Array], path: str) -> None:
        self.class_name = entry.get("class_name")
        self.config = entry.get("config") or {}
        self.name = entry.get("name") or self.config.get("name")
        self.inbound_nodes = entry.get("inbound_nodes") or []
        self.weights = weights
        self.path = path
        dtype = self.config.get("dtype")
        dtype = (dtype.get("config") or {}).get("name") if isinstance(dtype, dict) else dtype
        if dtype not in (None, "float32", "float64"):
            # Mixed precision or quantised policies compute differently from our float32.
            raise self.fail(f"has dtype policy {dtype!r}; runtime.py supports float32 and float64")

    def fail(self, what: str) -> ArtifactError:
        return ArtifactError(f"{self.path}: layer {self.name!r} ({self.class_name}) {what}")

    def option(self, key: str, allowed: Any, default: Any = None) -> Any:
        # Refuse any setting we do not implement rather than silently compute something else.
        value = self.config.get(key, default)
        if value not in allowed:
            raise self.fail(f"has {key}={value!r}; runtime.py supports only {allowed!r}")
        return value

    def activation(self, key: str, default: str) -> Callable[[Array], Array]:
        return _ACTIVATIONS[self.option(key, tuple(_ACTIVATIONS), default)]

    def take_weights(self, names: tuple[str, ...]) -> list[Array]:
        if len(self.weights) != len(names):
            raise self.fail(f"has {len(self.weights)} weight arrays, expected {', '.join(names)}")
        return self.weights


def _lstm(layer: Layer) -> LayerFn:
    for key in ("go_backwards", "stateful", "return_state"):
        layer.option(key, (False,), False)
    units = layer.config.get("units")
    act = layer.activation("activation", "tanh")
    rec_act = layer.activation("recurrent_activation", "sigmoid")
    use_bias = layer.option("use_bias", (True, False), True)
    names = ("kernel", "recurrent_kernel") + (("bias",) if use_bias else ())
    kernel, recurrent, *rest = layer.take_weights(names)
    bias = rest[0] if rest else np.zeros(4 * units, DTYPE)
    if recurrent.shape != (units, 4 * units) or kernel.shape[1] != 4 * units:
        raise layer.fail(f"has recurrent kernel {recurrent.shape}, not {units} units")
    return_sequences = layer.option("return_sequences", (True, False), False)
    if act is np.tanh and rec_act is _sigmoid:
        kernel, recurrent, bias, recur = _fused_lstm_step(units, kernel, recurrent, bias)
    else:
        recur = _lstm_step(units, recurrent, act, rec_act)

    def run(inputs: list) -> Array:
        # Time-major, so each step reads one contiguous slab; the input projection of every
        # step is one matmul and only h @ U stays inside the Python loop.
        x = np.ascontiguousarray(np.swapaxes(inputs[0], 0, 1))
        steps, batch, features = x.shape
        x_proj = (x.reshape(-1, features) @ kernel + bias).reshape(steps, batch, 4 * units)
        h, c = np.zeros((batch, units), DTYPE), np.zeros((batch, units), DTYPE)
        seq = np.empty((steps, batch, units), DTYPE) if return_sequences else None
        for t in range(steps):
            h = recur(x_proj[t], h, c, None if seq is None else seq[t])
        return np.swapaxes(seq, 0, 1) if seq is not None else h

    return run


def _lstm_step(units: int, recurrent: Array, act, rec_act):
    """Any activations: the Keras cell as written, gate order input, forget, candidate, output.

    The step updates the cell state ``c`` in place and returns h (into ``out`` when given).
    """
    def recur(x_t: Array, h: Array, c: Array, out: Array | None) -> Array:
        z = x_t + h @ recurrent
        i, f = rec_act(z[:, :units]), rec_act(z[:, units:2 * units])
        g, o = act(z[:, 2 * units:3 * units]), rec_act(z[:, 3 * units:])
        c *= f
        c += i * g
        return np.multiply(o, act(c), out=out)

    return recur


def _fused_lstm_step(units: int, kernel: Array, recurrent: Array, bias: Array):
    """tanh and sigmoid: one in-place tanh per step serves all four gates.

    sigmoid(z) = (tanh(z / 2) + 1) / 2, and halving is exact in binary floating point, so with
    the input, forget and output columns pre-halved one tanh gives every gate. The columns are
    also reordered to input, forget, output, candidate, so the three sigmoid gates are one
    contiguous block. Returns the rearranged weights and the step, as ``_lstm_step``'s.
    """
    order = np.r_[0:2 * units, 3 * units:4 * units, 2 * units:3 * units]
    half = np.ones(4 * units, DTYPE)
    half[:3 * units] = 0.5
    kernel, recurrent = kernel[:, order] * half, recurrent[:, order] * half
    bias = bias[order] * half
    u2, u3 = 2 * units, 3 * units

    def recur(x_t: Array, h: Array, c: Array, out: Array | None) -> Array:
        z = h @ recurrent
        z += x_t
        np.tanh(z, out=z)
        gates = z[:, :u3]
        gates *= 0.5
        gates += 0.5
        c *= gates[:, units:u2]
        c += gates[:, :units] * z[:, u3:]
        return np.multiply(gates[:, u2:u3], np.tanh(c), out=out)

    return kernel, recurrent, bias, recur


def _dense(layer: Layer) -> LayerFn:
    layer.option("quantization_config", (None,))
    layer.option("lora_rank", (None, 0))
    act = layer.activation("activation", "linear")
    use_bias = layer.option("use_bias", (True, False), True)
    kernel, *rest = layer.take_weights(("kernel", "bias") if use_bias else ("kernel",))
    bias = rest[0] if rest else 0.0
    return lambda inputs: act(inputs[0] @ kernel + bias)


def _cropping1d(layer: Layer) -> LayerFn:
    start, end = layer.config.get("cropping", (1, 1))
    return lambda inputs: inputs[0][:, start:inputs[0].shape[1] - end]


def _flatten(layer: Layer) -> LayerFn:
    layer.option("data_format", ("channels_last", None), "channels_last")
    # An explicit size, because -1 cannot be inferred for an empty batch.
    return lambda inputs: inputs[0].reshape(len(inputs[0]), int(np.prod(inputs[0].shape[1:])))


def _concatenate(layer: Layer) -> LayerFn:
    axis = layer.config.get("axis", -1)
    return lambda inputs: np.concatenate(inputs, axis=axis)


def _additive_attention(layer: Layer) -> LayerFn:
    use_scale = layer.option("use_scale", (True, False), True)
    scale = layer.take_weights(("scale",))[0] if use_scale else 1.0

    def run(inputs: list) -> Array:
        query, value, key = (inputs + inputs[1:])[:3]  # [query, value] means key = value
        # Keras 3: scores[b, i, j] = sum_d scale[d] * tanh(query[b, i, d] + key[b, j, d]).
        scores = np.sum(scale * np.tanh(query[:, :, None, :] + key[:, None, :, :]), axis=-1)
        weights = np.exp(scores - scores.max(axis=-1, keepdims=True))
        weights /= weights.sum(axis=-1, keepdims=True)
        return weights @ value

    return run


BUILDERS: dict[str, Callable[[Layer], LayerFn]] = {
    "LSTM": _lstm,
    "Dense": _dense,
    "Dropout": lambda layer: lambda inputs: inputs[0],  # Dropout only acts while training.
    "Cropping1D": _cropping1d,
    "Flatten": _flatten,
    "Concatenate": _concatenate,
    "AdditiveAttention": _additive_attention,
}
