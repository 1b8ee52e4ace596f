// The input spec of an image model, as a zoo manifest declares it and the vision task applies it
// (src/tasks/vision/preprocess.ts). It lives in the zoo, which must not import the tasks.

/** The resampling kernels of src/tasks/vision/resize.ts, each named after the library whose arithmetic it follows. */
export type ResizeMethod = 'tf-bilinear' | 'opencv-linear' | 'area' | 'nearest';

/** tf.image.resizeBilinear's two flags. */
export interface TfBilinearFlags {
  alignCorners: boolean;
  halfPixelCenters: boolean;
}

/** How a model wants its input image. */
export interface PreprocessSpec {
  width: number;
  height: number;
  layout: 'NHWC' | 'NCHW';
  /** Channel order; 'GRAY' gives one channel (luma), as person-detection micro models take. */
  channels: 'RGB' | 'BGR' | 'GRAY';
  /** 'stretch' ignores the aspect ratio; 'letterbox' keeps it and pads the borders with `padValue`. */
  resize: 'stretch' | 'letterbox';
  /**
   * Pixel value p (0..255) to real value r:
   * { mean, std } → (p - mean[c]) / std[c], with mean and std in 0..255 units and in
   * the output channel order; 'zero-one' → p / 255; 'none' → p.
   */
  normalize: { mean: readonly number[]; std: readonly number[] } | 'zero-one' | 'none';
  dtype: 'float32' | 'int8' | 'uint8';
  /**
   * The model's input quantization for int8/uint8: q = round(r / scale) + zeroPoint,
   * saturated. Without it, int8/uint8 need normalize 'none' and take the raw pixel
   * (uint8) or pixel - 128 (int8, the TFLite Micro examples' convention).
   */
  quant?: { scale: number; zeroPoint: number };
  /** Letterbox border value, 0..255 before normalisation (default 0). */
  padValue?: number;
  /**
   * The resampling kernel the model was trained and published with (see resize.ts):
   * the image is decoded at full size by sharp and resized in our code. 'lanczos3'
   * (the default when absent) lets sharp resize while decoding, which is faster on
   * large photos but is what no training pipeline did.
   */
  interpolation?: ResizeMethod | 'lanczos3';
  /** tf.image.resizeBilinear's flags for 'tf-bilinear' (default both false, TF's and @vladmandic/human's). */
  tfBilinear?: TfBilinearFlags;
}
