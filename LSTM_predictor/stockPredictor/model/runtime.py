"""NumPy forward pass of the networks ``training/networks.py`` builds, read straight from ``.h5``.

The web process must never import TensorFlow (RAM, slug size, ``gunicorn --preload``), so this
module reads a Keras 3 legacy HDF5 file with h5py alone: the architecture JSON from the root
attribute ``model_config``, the weights from ``model_weights/<layer>/<weight name>``. It then runs
the functional graph in float32, as Keras does: the weights are float32 in the file, the outputs
agree with Keras to a few 1e-7 (far inside the 1e-5 tolerance the tests hold it to), and NumPy's
float32 tanh is vectorised where its float64 one is not, which makes a whole-series forecast table
3-4 times faster than float64 on the same cores.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable

import h5py
import numpy as np

from ..errors import ArtifactError, DataError

Array = np.ndarray
DTYPE = np.float32
# Windows run through the graph at a time: bounds the time-major buffers (steps x batch x 4 units)
# to a few MB whatever the batch, at no cost in speed.
CHUNK = 512
LayerFn = Callable[[list], Array]
# A tensor in the graph: (layer name, node index); every supported layer has one output.
Ref = tuple[str, int]


def _sigmoid(x: Array) -> Array:
    # The tanh form never overflows, unlike 1 / (1 + exp(-x)) for large negative x.
    return 0.5 * (np.tanh(0.5 * x) + 1.0)


_ACTIVATIONS: dict[str, Callable[[Array], Array]] = {
    "linear": lambda x: x,
    "tanh": np.tanh,
    "sigmoid": _sigmoid,
    "relu": lambda x: np.maximum(x, 0.0),
}


class _Layer:
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


def _lstm(layer: _Layer) -> LayerFn:
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


def _dense(layer: _Layer) -> LayerFn:
    layer.option("quantization_config", (None,))
    layer.option("lora_rank", (None, 0))
    act = layer.activation("activation", "linear")
    use_bias = layer.option("use_bias", (True, False), True)
    kernel, *rest = layer.take_weights(("kernel", "bias") if use_bias else ("kernel",))
    bias = rest[0] if rest else 0.0
    return lambda inputs: act(inputs[0] @ kernel + bias)


def _cropping1d(layer: _Layer) -> LayerFn:
    start, end = layer.config.get("cropping", (1, 1))
    return lambda inputs: inputs[0][:, start:inputs[0].shape[1] - end]


def _flatten(layer: _Layer) -> LayerFn:
    layer.option("data_format", ("channels_last", None), "channels_last")
    # An explicit size, because -1 cannot be inferred for an empty batch.
    return lambda inputs: inputs[0].reshape(len(inputs[0]), int(np.prod(inputs[0].shape[1:])))


def _concatenate(layer: _Layer) -> LayerFn:
    axis = layer.config.get("axis", -1)
    return lambda inputs: np.concatenate(inputs, axis=axis)


def _additive_attention(layer: _Layer) -> LayerFn:
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


_BUILDERS: dict[str, Callable[[_Layer], LayerFn]] = {
    "LSTM": _lstm,
    "Dense": _dense,
    "Dropout": lambda layer: lambda inputs: inputs[0],  # Dropout only acts while training.
    "Cropping1D": _cropping1d,
    "Flatten": _flatten,
    "Concatenate": _concatenate,
    "AdditiveAttention": _additive_attention,
}


class RuntimeModel:
    """A saved Keras network, executed with NumPy: call it on (batch, window, features)."""

    def __init__(self, plan: list, input_ref: Ref, output_ref: Ref,
                 input_shape: tuple, path: str) -> None:
        self._plan = plan
        self._input_ref = input_ref
        self._output_ref = output_ref
        self.input_shape: tuple[int | None, int | None] = input_shape
        self.path = path
        # A dry run proves the weights chain up and tells the forecast length.
        probe = self(np.zeros((1, input_shape[0] or 1, input_shape[1]), DTYPE))
        if probe.ndim != 2:
            raise ArtifactError(f"{path}: output has shape {probe.shape[1:]}, not (output_steps,)")
        self.output_steps: int = probe.shape[1]

    def __call__(self, x: Array) -> Array:
        """Forecast for a batch of windows: (batch, window, features) -> (batch, output_steps)."""
        x = np.asarray(x, dtype=DTYPE)
        expected = self.input_shape
        if x.ndim != 3 or any(e is not None and e != got for e, got in zip(expected, x.shape[1:])):
            raise DataError(f"input of shape {x.shape} does not fit the model's "
                            f"(batch, {expected[0]}, {expected[1]}) in {self.path}")
        if len(x) > CHUNK:
            return np.concatenate([self(x[i:i + CHUNK]) for i in range(0, len(x), CHUNK)])
        values: dict[Ref, Array] = {self._input_ref: x}
        for ref, fn, sources, as_list in self._plan:
            args = [values[s] for s in sources]
            values[ref] = fn(args if as_list else args[:1])
        return values[self._output_ref]

    def __repr__(self) -> str:
        return f"RuntimeModel({self.path!r}, input_shape={self.input_shape}, " \
               f"output_steps={self.output_steps})"


def load_model(path: str | Path) -> RuntimeModel:
    """Load a Keras 3 legacy ``.h5`` file (``model.save("x.h5")``) without TensorFlow."""
    path = str(path)
    try:
        with h5py.File(path, "r") as h5:
            raw = h5.attrs.get("model_config")
            if raw is None:
                raise ArtifactError(f"{path}: no model_config attribute; not a saved Keras model")
            model_config = json.loads(_text(raw))
            root = h5["model_weights"] if "model_weights" in h5 else h5
            entries = model_config.get("config", {}).get("layers", [])
            layers = [_Layer(e, _read_weights(root, e), path) for e in entries]
        return _compile(model_config, layers, path)
    except ArtifactError:
        raise
    except (OSError, KeyError, ValueError, TypeError, AttributeError, IndexError) as exc:
        # A truncated file or hand-edited JSON: report the file, never a bare traceback.
        raise ArtifactError(f"{path}: cannot read the model: {exc!r}") from exc


def _text(raw: Any) -> str:
    return raw.decode("utf-8") if isinstance(raw, bytes) else str(raw)


def _read_weights(root: h5py.Group, entry: dict) -> list[Array]:
    name = entry.get("name") or (entry.get("config") or {}).get("name")
    if name not in root:
        return []
    group = root[name]
    # weight_names is stored as an empty float64 array for layers without weights.
    names = [_text(n) for n in group.attrs.get("weight_names", [])]
    return [np.asarray(group[n], dtype=DTYPE) for n in names]


def _compile(model_config: dict, layers: list[_Layer], path: str) -> RuntimeModel:
    if model_config.get("class_name") != "Functional":
        raise ArtifactError(f"{path}: model class {model_config.get('class_name')!r} is not "
                            "supported; runtime.py runs Functional models only")
    config = model_config["config"]
    input_ref = _single_endpoint(config.get("input_layers"), "input", path)
    output_ref = _single_endpoint(config.get("output_layers"), "output", path)
    nodes: dict[Ref, tuple] = {}
    input_shape = None
    for layer in layers:
        if layer.class_name == "InputLayer":
            if (layer.name, 0) == input_ref:
                input_shape = tuple(layer.config.get("batch_shape", ())[1:])
            continue
        if layer.class_name not in _BUILDERS:
            raise layer.fail(f"is a layer class runtime.py cannot run; it supports InputLayer, "
                             f"{', '.join(sorted(_BUILDERS))}")
        fn = _BUILDERS[layer.class_name](layer)
        for index, node in enumerate(layer.inbound_nodes):
            sources, as_list = _parse_node(node, layer)
            nodes[(layer.name, index)] = (fn, sources, as_list)
    if input_shape is None or len(input_shape) != 2 or input_shape[1] is None:
        raise ArtifactError(f"{path}: input {input_ref[0]!r} is not a (window, features) input")
    plan = _order(nodes, input_ref, output_ref, path)
    try:
        return RuntimeModel(plan, input_ref, output_ref, input_shape, path)
    except (ValueError, IndexError) as exc:
        raise ArtifactError(f"{path}: weights do not fit the architecture: {exc}") from exc


def _single_endpoint(spec: Any, kind: str, path: str) -> Ref:
    # Keras 3 writes one endpoint as ["name", 0, 0] and several as a list of such triples.
    if isinstance(spec, list) and len(spec) == 1 and isinstance(spec[0], list):
        spec = spec[0]
    if not (isinstance(spec, list) and len(spec) == 3 and isinstance(spec[0], str)):
        raise ArtifactError(f"{path}: {kind}_layers={spec!r}; runtime.py needs exactly one {kind}")
    if spec[2] != 0:
        raise ArtifactError(f"{path}: {kind} {spec!r} is not a layer's first output")
    return (spec[0], spec[1])


def _parse_node(node: Any, layer: _Layer) -> tuple[list[Ref], bool]:
    """The tensors one call of ``layer`` reads, and whether they were passed as a list."""
    if not isinstance(node, dict) or "args" not in node:
        raise layer.fail(f"has an inbound node in a format runtime.py does not know: {node!r}")
    args, kwargs = node["args"], node.get("kwargs") or {}
    for key, value in kwargs.items():
        # training only switches dropout; masks, initial states, returned scores, causal
        # masks and the like would change the maths, so refuse rather than ignore them.
        if key != "training" and value not in (None, False):
            raise layer.fail(f"is called with {key}={value!r}, which runtime.py does not support")
    if len(args) != 1:
        raise layer.fail(f"is called with {len(args)} positional arguments; expected 1")
    as_list = isinstance(args[0], list)
    tensors = args[0] if as_list else [args[0]]
    sources = []
    for tensor in tensors:
        history = isinstance(tensor, dict) and (tensor.get("config") or {}).get("keras_history")
        if not history or history[2] != 0:
            raise layer.fail(f"has an input runtime.py cannot resolve: {tensor!r}")
        sources.append((history[0], history[1]))
    return sources, as_list


def _order(nodes: dict, input_ref: Ref, output_ref: Ref, path: str) -> list:
    """Topological order of the nodes the output needs, as (ref, fn, sources, as_list)."""
    plan: list = []
    state: dict[Ref, str] = {input_ref: "done"}

    def visit(ref: Ref) -> None:
        if state.get(ref) == "done":
            return
        if state.get(ref) == "visiting":
            raise ArtifactError(f"{path}: the graph has a cycle through {ref[0]!r}")
        if ref not in nodes:
            raise ArtifactError(f"{path}: the graph refers to {ref[0]!r} (call {ref[1]}), "
                                "which is neither a layer nor the model input")
        state[ref] = "visiting"
        fn, sources, as_list = nodes[ref]
        for source in sources:
            visit(source)
        state[ref] = "done"
        plan.append((ref, fn, sources, as_list))

    visit(output_ref)
    return plan
