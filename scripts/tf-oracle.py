"""TensorFlow's own TFLite reference kernels as an oracle for cloudless (test/codegen/tf-oracle.test.ts).

Usage: .cache/tf-venv/bin/python scripts/tf-oracle.py OUT_DIR [CASE ...]

For every case below it builds a small Keras graph with seeded weights, converts it with
tf.lite.TFLiteConverter to full-integer int8 and to 16x8 (int16 activations, int8 weights; the
EXPERIMENTAL_TFLITE_BUILTINS_ACTIVATIONS_INT16_WEIGHTS_INT8 op set) from a seeded representative
dataset, runs it in tf.lite.Interpreter with the BUILTIN_REF op resolver (TFLite's reference
kernels) and experimental_preserve_all_tensors, and writes into OUT_DIR:

  <case>_<mode>.tflite                 the converted model
  <case>_<mode>/t<index>.npy           every tensor after invoke (inputs, intermediates, outputs)
  manifest.json                        per model: ops, inputs, outputs, every tensor's name,
                                       dtype, shape and quantization, and its .npy file

A case the converter cannot make in a mode is listed with its error instead of a model.
Everything is generated here at run time; nothing is fetched and nothing is meant to be committed.
"""

import json
import os
import re
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

keras = tf.keras
L = keras.layers


def seeded_init(seed):
    return keras.initializers.RandomUniform(-0.6, 0.6, seed=seed)


def conv(filters, k, seed, **kw):
    return L.Conv2D(filters, k, kernel_initializer=seeded_init(seed),
                    bias_initializer=keras.initializers.RandomUniform(-0.3, 0.3, seed=seed + 1), **kw)


def dense(units, seed, **kw):
    return L.Dense(units, kernel_initializer=seeded_init(seed),
                   bias_initializer=keras.initializers.RandomUniform(-0.3, 0.3, seed=seed + 1), **kw)


# Each case: (inputs as (shape, range) pairs, a function from the Keras inputs to the output(s)).
# `range` is the half-width of the uniform calibration and test data of that input.
CASES = {
    "conv": ([((12, 12, 3), 1.0)], lambda x: conv(8, 3, 1, strides=2, padding="same", activation="relu")(x[0])),
    "conv_dilated": ([((11, 11, 4), 2.0)], lambda x: conv(6, 3, 3, dilation_rate=2, padding="valid")(x[0])),
    "depthwise": ([((10, 10, 4), 1.0)], lambda x: L.DepthwiseConv2D(
        3, depth_multiplier=2, padding="same", activation="relu6",
        depthwise_initializer=seeded_init(5), bias_initializer=keras.initializers.RandomUniform(-0.3, 0.3, seed=6))(x[0])),
    "depthwise_s2": ([((9, 9, 3), 1.5)], lambda x: L.DepthwiseConv2D(
        3, strides=2, padding="valid", depthwise_initializer=seeded_init(7),
        bias_initializer=keras.initializers.RandomUniform(-0.3, 0.3, seed=8))(x[0])),
    "fc": ([((20,), 1.0)], lambda x: dense(7, 9)(x[0])),
    "fc_relu": ([((2, 16), 2.0)], lambda x: dense(12, 11, activation="relu")(L.Flatten()(x[0]))),
    "add": ([((6, 6, 4), 1.0), ((6, 6, 4), 3.0)], lambda x: L.Add()([x[0], x[1]])),
    "sub": ([((6, 6, 4), 1.0), ((6, 6, 4), 3.0)], lambda x: L.Subtract()([x[0], x[1]])),
    "mul": ([((6, 6, 4), 1.0), ((6, 6, 4), 3.0)], lambda x: L.Multiply()([x[0], x[1]])),
    "add_broadcast": ([((5, 5, 4), 1.0), ((1, 1, 4), 2.0)], lambda x: keras.ops.add(x[0], x[1])),
    "mul_broadcast": ([((5, 5, 4), 1.0), ((1, 5, 1), 2.0)], lambda x: keras.ops.multiply(x[0], x[1])),
    "avgpool": ([((8, 8, 3), 1.0)], lambda x: L.AveragePooling2D(2)(x[0])),
    "avgpool_same": ([((7, 7, 3), 1.0)], lambda x: L.AveragePooling2D(3, strides=2, padding="same")(x[0])),
    "maxpool": ([((9, 9, 3), 1.0)], lambda x: L.MaxPooling2D(3, strides=2, padding="same")(x[0])),
    "mean_gap": ([((6, 6, 5), 1.0)], lambda x: L.GlobalAveragePooling2D()(conv(5, 3, 13, padding="same")(x[0]))),
    "mean_keep": ([((6, 6, 5), 1.0)], lambda x: keras.ops.mean(conv(5, 1, 15)(x[0]), axis=[1, 2], keepdims=True)),
    # Calibration constant over H and W: MEAN's output then gets the input's scale and zero point.
    "mean_equal": ([((5, 7, 6), "spatially-constant")], lambda x: keras.ops.mean(x[0], axis=[1, 2], keepdims=True)),
    "softmax": ([((16,), 1.0)], lambda x: L.Softmax()(dense(10, 17)(x[0]))),
    "logistic": ([((16,), 1.0)], lambda x: dense(8, 19, activation="sigmoid")(x[0])),
    "tanh": ([((16,), 1.0)], lambda x: dense(8, 21, activation="tanh")(x[0])),
    "concat": ([((6, 6, 3), 1.0)], lambda x: L.Concatenate()([conv(4, 3, 23, padding="same")(x[0]), conv(2, 1, 25)(x[0])])),
    "concat_inputs": ([((4, 4, 3), 1.0), ((4, 4, 2), 4.0)], lambda x: L.Concatenate()([x[0], x[1]])),
    "pad": ([((5, 5, 3), 1.0)], lambda x: L.ZeroPadding2D(((1, 2), (0, 1)))(conv(3, 1, 27)(x[0]))),
    "reshape": ([((24,), 1.0)], lambda x: L.Reshape((3, 4))(dense(12, 29)(x[0]))),
    "relu": ([((6, 6, 3), 2.0)], lambda x: L.ReLU()(x[0])),
    "relu6": ([((6, 6, 3), 8.0)], lambda x: L.ReLU(max_value=6.0)(x[0])),
    "leaky_relu": ([((6, 6, 3), 2.0)], lambda x: L.LeakyReLU(negative_slope=0.2)(x[0])),
    "hard_swish": ([((6, 6, 3), 4.0)], lambda x: L.Activation("hard_swish")(x[0])),
    "transpose": ([((3, 4, 5), 1.0)], lambda x: L.Permute((3, 1, 2))(x[0])),
    "float_io": ([((8, 8, 2), 1.0)], lambda x: conv(4, 3, 31, padding="same", activation="relu")(x[0])),
    "mobilenet_block": ([((16, 16, 3), 1.0)], lambda x: L.Softmax()(dense(5, 33)(L.GlobalAveragePooling2D()(
        conv(12, 1, 35, activation="relu6")(L.DepthwiseConv2D(
            3, padding="same", activation="relu6", depthwise_initializer=seeded_init(37),
            bias_initializer=keras.initializers.RandomUniform(-0.3, 0.3, seed=38))(
            conv(8, 3, 39, strides=2, padding="same", activation="relu6")(x[0]))))))),
}

# (case, mode) pairs TensorFlow's converter refuses: listed as unsupported, not as failures.
CONVERTER_REFUSES = {("hard_swish", "16x8")}

# Cases whose model keeps float32 input and output (QUANTIZE and DEQUANTIZE at the edges).
FLOAT_IO = {"float_io"}


def sample(rng, shape, spec):
    if spec == "spatially-constant":
        # Multiples of 1/64: their sums and means are exact in float32, so the calibrated ranges of
        # MEAN's input and output are the same numbers and the converter gives both one scale.
        per_channel = (np.round(rng.uniform(-64, 64, size=(1, 1, 1, shape[-1]))) / 64).astype(np.float32)
        return np.broadcast_to(per_channel, (1, *shape)).copy()
    return rng.uniform(-spec, spec, size=(1, *shape)).astype(np.float32)


def build(name):
    specs, body = CASES[name]
    keras.utils.set_random_seed(1234)
    inputs = [keras.Input(shape=s, batch_size=1, name=f"in{i}") for i, (s, _) in enumerate(specs)]
    out = body(inputs)
    return keras.Model(inputs, out, name=name), specs


def convert(model, specs, mode, float_io, seed):
    conv_ = tf.lite.TFLiteConverter.from_keras_model(model)
    conv_.optimizations = [tf.lite.Optimize.DEFAULT]

    def representative():
        rng = np.random.default_rng(seed)
        for _ in range(64):
            yield [sample(rng, s, r) for s, r in specs]

    conv_.representative_dataset = representative
    if mode == "int8":
        conv_.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        io = tf.int8
    else:
        conv_.target_spec.supported_ops = [tf.lite.OpsSet.EXPERIMENTAL_TFLITE_BUILTINS_ACTIVATIONS_INT16_WEIGHTS_INT8]
        io = tf.int16
    if not float_io:
        conv_.inference_input_type = io
        conv_.inference_output_type = io
    return conv_.convert()


def quantize_input(x, detail):
    if detail["dtype"] == np.float32:
        return x
    scale, zp = detail["quantization"]
    info = np.iinfo(detail["dtype"])
    q = np.round(x / scale) + zp
    return np.clip(q, info.min, info.max).astype(detail["dtype"])


def run_case(out_dir, name, mode):
    model, specs = build(name)
    blob = convert(model, specs, mode, name in FLOAT_IO, seed=100)
    tag = f"{name}_{mode}"
    path = os.path.join(out_dir, f"{tag}.tflite")
    with open(path, "wb") as f:
        f.write(blob)
    interp = tf.lite.Interpreter(
        model_path=path,
        experimental_op_resolver_type=tf.lite.experimental.OpResolverType.BUILTIN_REF,
        experimental_preserve_all_tensors=True,
    )
    interp.allocate_tensors()
    rng = np.random.default_rng(7)
    input_details = interp.get_input_details()
    for d in input_details:
        # The Keras input names (in0, in1, ...) survive in the converted model's input tensor names.
        m = re.search(r"in(\d+)", d["name"])
        if not m or int(m.group(1)) >= len(specs):
            raise ValueError(f"input tensor {d['name']} names no Keras input in0..in{len(specs) - 1}")
        s, r = specs[int(m.group(1))]
        # Test data: the calibration distribution, stretched 10 % past it so the edges saturate.
        x = rng.uniform(-1.0, 1.0, size=(1, *s)).astype(np.float32) if r == "spatially-constant" else sample(rng, s, r * 1.1)
        interp.set_tensor(d["index"], quantize_input(x, d))
    interp.invoke()
    tdir = os.path.join(out_dir, tag)
    os.makedirs(tdir, exist_ok=True)
    tensors = []
    for t in interp.get_tensor_details():
        try:
            v = interp.get_tensor(t["index"])
        except ValueError:
            v = None
        entry = {
            "index": int(t["index"]), "name": t["name"], "dtype": np.dtype(t["dtype"]).name,
            "shape": [int(d) for d in t["shape"]],
            "scales": [float(s) for s in t["quantization_parameters"]["scales"]],
            "zero_points": [int(z) for z in t["quantization_parameters"]["zero_points"]],
        }
        if v is not None:
            file = os.path.join(tag, f"t{t['index']}.npy")
            np.save(os.path.join(out_dir, file), v)
            entry["npy"] = file
        tensors.append(entry)
    ops = [o["op_name"] for o in interp._get_ops_details()]
    io = lambda ds: [{"name": d["name"], "index": int(d["index"])} for d in ds]  # noqa: E731
    return {
        "case": name, "mode": mode, "tflite": f"{tag}.tflite", "ops": ops,
        "inputs": io(input_details), "outputs": io(interp.get_output_details()), "tensors": tensors,
    }


def main():
    if len(sys.argv) < 2:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    out_dir = sys.argv[1]
    os.makedirs(out_dir, exist_ok=True)
    names = sys.argv[2:] or list(CASES)
    for n in names:
        if n not in CASES:
            print(f"tf-oracle: unknown case {n}; cases: {', '.join(CASES)}", file=sys.stderr)
            sys.exit(2)
    models = []
    for n in names:
        for mode in ("int8", "16x8"):
            if (n, mode) in CONVERTER_REFUSES:
                models.append({"case": n, "mode": mode, "unsupported": "TensorFlow's converter has no such kernel"})
                continue
            try:
                models.append(run_case(out_dir, n, mode))
            except Exception as e:  # the converter refuses some op/mode pairs: recorded, not hidden
                models.append({"case": n, "mode": mode, "error": f"{type(e).__name__}: {str(e)[:2000]}"})
    manifest = {"tensorflow": tf.__version__, "models": models}
    with open(os.path.join(out_dir, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=1)
    ok = sum(1 for m in models if "error" not in m and "unsupported" not in m)
    print(f"tf-oracle: {ok} of {len(models)} models converted and run with BUILTIN_REF (tensorflow {tf.__version__})")


if __name__ == "__main__":
    main()
