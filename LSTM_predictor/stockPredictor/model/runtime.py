"""NumPy forward pass of the networks ``training/networks.py`` builds, read straight from ``.h5``.

The web process must never import TensorFlow (RAM, slug size, ``gunicorn --preload``), so this
module reads a Keras 3 legacy HDF5 file with h5py alone: the architecture JSON from the root
attribute ``model_config``, the weights from ``model_weights/<layer>/<weight name>``. It then runs
the functional graph in float32, as Keras does: the weights are float32 in the file, the outputs
agree with Keras to a few 1e-7 (far inside the 1e-5 tolerance the tests hold it to), and NumPy's
float32 tanh is vectorised where its float64 one is not, which makes a whole-series forecast table
3-4 times faster than float64 on the same cores. Each layer's maths is in layers.py.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from ..errors import ArtifactError, DataError
from .layers import BUILDERS, DTYPE, Array, Layer

# Windows run through the graph at a time: bounds the time-major buffers (steps x batch x 4 units)
# to a few MB whatever the batch, at no cost in speed.
CHUNK = 512
# A tensor in the graph: (layer name, node index); every supported layer has one output.
Ref = tuple[str, int]


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
            layers = [Layer(e, _read_weights(root, e), path) for e in entries]
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


def _compile(model_config: dict, layers: list[Layer], path: str) -> RuntimeModel:
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
        if layer.class_name not in BUILDERS:
            raise layer.fail(f"is a layer class runtime.py cannot run; it supports InputLayer, "
                             f"{', '.join(sorted(BUILDERS))}")
        fn = BUILDERS[layer.class_name](layer)
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


def _parse_node(node: Any, layer: Layer) -> tuple[list[Ref], bool]:
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
