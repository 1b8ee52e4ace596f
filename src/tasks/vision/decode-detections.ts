/**
 * A detector's outputs → detections, by the zoo's decoder settings: the part of
 * a detector that Node (detector.ts) and the browser entry share.
 */
import { CloudlessError, type Tensor } from '../../ir/index.js';
import type { DecoderSettings } from '../../zoo/manifest.js';
import { decodeCenterNet } from './centernet.js';
import type { Detection } from './detection.js';
import type { ImageTransform } from './input-tensor.js';
import { decodeNanoDet } from './nanodet.js';

export type DetectionDecoder = Extract<DecoderSettings, { kind: 'centernet' | 'nanodet' }>;

export interface DecodeSettings {
  scoreThreshold: number;
  iouThreshold: number;
  maxDetections: number;
  labels?: readonly string[];
}

/** The decode step of a detector for `model` (named in errors). */
export function detectionDecoder(settings: DetectionDecoder, common: DecodeSettings, model: string): (out: Record<string, Tensor>, transform: ImageTransform) => Detection[] {
  return (out, transform) => {
    if (settings.kind === 'centernet') {
      const keypoints = out[settings.outputs.keypoints];
      const wh = out[settings.outputs.wh];
      if (!keypoints || !wh) {
        throw new CloudlessError('E_CONFIG', `model ${model}: CenterNet outputs ${settings.outputs.keypoints} and ${settings.outputs.wh} not found (has ${Object.keys(out).join(', ')})`);
      }
      return decodeCenterNet({ keypoints, wh }, transform, common);
    }
    return decodeNanoDet(out, transform, { ...common, strides: settings.strides, regMax: settings.regMax });
  };
}
