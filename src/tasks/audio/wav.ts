/**
 * WAV (RIFF/WAVE) decoding: PCM 8 (unsigned), 16, 24 and 32-bit integers and
 * 32/64-bit IEEE float, WAVE_FORMAT_EXTENSIBLE with either of those, any
 * number of channels, sample rates 8..384 kHz. Samples come out as float32 in
 * [-1, 1) per channel; 16-bit input survives the trip to float32 and back
 * (toInt16) exactly, which the bit-exact micro_speech features rely on.
 *
 * Malformed files give an E_AUDIO CloudlessError naming the file and what is
 * wrong; nothing here can loop or allocate more than the file's own size.
 * WavFile reads a file in fixed blocks, so its memory does not grow with it.
 */
import { closeSync, fstatSync, openSync, readFileSync, readSync } from 'node:fs';
import { CloudlessError } from '../../ir/index.js';

export interface DecodedAudio {
  sampleRate: number;
  /** One array per channel, values in [-1, 1). */
  channels: Float32Array[];
  /** What the file held, for messages ("16-bit PCM", "32-bit float"). */
  encoding: string;
}

const FORMAT_PCM = 1;
const FORMAT_FLOAT = 3;
const FORMAT_EXTENSIBLE = 0xfffe;
/** A data size some streaming writers put when the length is unknown. */
const UNKNOWN_SIZE = 0xffffffff;

function fail(file: string, message: string, hint?: string): never {
  throw new CloudlessError('E_AUDIO', `${file}: ${message}`, { file, hint });
}

function fourCC(b: Uint8Array, at: number): string {
  return String.fromCharCode(b[at]!, b[at + 1]!, b[at + 2]!, b[at + 3]!);
}

/** The sample rates cloudless reads, and why (said in the error for others). */
export const MIN_SAMPLE_RATE = 8000;
export const MAX_SAMPLE_RATE = 384_000;
const RATE_REASON = `cloudless reads ${MIN_SAMPLE_RATE}..${MAX_SAMPLE_RATE} Hz: below ${MIN_SAMPLE_RATE} Hz (telephone speech) no speech band is left `
  + `for the 16 kHz models, and ${MAX_SAMPLE_RATE} Hz is the highest rate audio interfaces record; `
  + 'the resampler\'s cost per input sample grows with the ratio, so rates outside this range are refused rather than converted';

/** Throws E_AUDIO (naming `file`) unless `rate` is an integer in [MIN_SAMPLE_RATE, MAX_SAMPLE_RATE]. */
export function checkSampleRate(rate: number, file: string): void {
  if (!Number.isInteger(rate) || rate < MIN_SAMPLE_RATE || rate > MAX_SAMPLE_RATE) {
    fail(file, `sample rate ${rate} Hz is outside ${MIN_SAMPLE_RATE}..${MAX_SAMPLE_RATE} Hz`,
      `${RATE_REASON}; convert with \`sox in.wav -r 16000 out.wav\``);
  }
}

/** What a WAV header says, validated: where the audio is and how to read it. */
export interface WavHeader {
  format: number;
  channels: number;
  sampleRate: number;
  bits: number;
  /** Bytes per frame (one sample of every channel). */
  frameBytes: number;
  /** Byte offset of the first sample. */
  dataOffset: number;
  /** Bytes of audio (a whole number of frames). */
  dataBytes: number;
  frames: number;
  encoding: string;
}

/** Random access to a file or a buffer: up to `length` bytes at `offset` (fewer at the end). */
type ReadAt = (offset: number, length: number) => Uint8Array;

/** Chunks before `data` worth walking past (LIST, fact, bext...): more is a crafted file. */
const MAX_CHUNKS = 4096;

/**
 * Parses and validates the header from `read` over `size` bytes: RIFF/WAVE,
 * a fmt chunk (PCM 8/16/24/32, float 32/64, or EXTENSIBLE with either), a
 * plausible channel count and rate, block align, and a data chunk whose
 * declared length fits in the file. Reads only chunk headers and the fmt
 * body, whatever the file's length.
 */
export function parseWavHeader(read: ReadAt, size: number, file: string): WavHeader {
  const head = read(0, 12);
  if (head.length < 12 || fourCC(head, 0) !== 'RIFF' || fourCC(head, 8) !== 'WAVE') {
    fail(file, 'not a WAV file (no RIFF/WAVE header)', 'cloudless reads PCM or float WAV; convert other formats with sox or ffmpeg');
  }
  let fmt: { format: number; channels: number; rate: number; bits: number; blockAlign: number } | undefined;
  let data: { at: number; size: number } | undefined;
  let at = 12;
  for (let n = 0; at + 8 <= size && !data; n++) {
    if (n >= MAX_CHUNKS) fail(file, `more than ${MAX_CHUNKS} chunks before the data chunk`);
    const ch = read(at, 8);
    const id = fourCC(ch, 0);
    const chunkSize = new DataView(ch.buffer, ch.byteOffset, 8).getUint32(4, true);
    const body = at + 8;
    if (id === 'fmt ') {
      if (chunkSize < 16 || body + 16 > size) fail(file, `fmt chunk of ${chunkSize} bytes is too short`);
      const b = read(body, Math.min(chunkSize, 40));
      const view = new DataView(b.buffer, b.byteOffset, b.length);
      let format = view.getUint16(0, true);
      if (format === FORMAT_EXTENSIBLE) {
        if (chunkSize < 40 || b.length < 26) fail(file, 'WAVE_FORMAT_EXTENSIBLE header is truncated');
        format = view.getUint16(24, true);
      }
      fmt = {
        format,
        channels: view.getUint16(2, true),
        rate: view.getUint32(4, true),
        bits: view.getUint16(14, true),
        blockAlign: view.getUint16(12, true),
      };
    } else if (id === 'data') {
      if (!fmt) fail(file, 'data chunk comes before the fmt chunk');
      const available = size - body;
      if (chunkSize === UNKNOWN_SIZE || (chunkSize === 0 && available > 0)) {
        data = { at: body, size: available };
      } else {
        if (chunkSize > available) {
          fail(file, `truncated: the header declares ${chunkSize} bytes of audio but only ${available} follow`,
            'the file was cut short (an interrupted copy or recording); re-export it');
        }
        data = { at: body, size: chunkSize };
      }
    }
    // Chunks are padded to an even size.
    at = body + chunkSize + (chunkSize & 1);
  }
  if (!fmt) fail(file, 'no fmt chunk');
  if (!data) fail(file, 'no data chunk');
  const { format, channels, rate, bits } = fmt;
  if (channels < 1) fail(file, 'the header declares 0 channels');
  checkSampleRate(rate, file);
  const isInt = format === FORMAT_PCM && (bits === 8 || bits === 16 || bits === 24 || bits === 32);
  const isFloat = format === FORMAT_FLOAT && (bits === 32 || bits === 64);
  if (!isInt && !isFloat) {
    fail(file, `unsupported encoding (format tag ${format}, ${bits} bits per sample)`,
      'supported: PCM 8/16/24/32-bit and IEEE float 32/64-bit; convert with `sox in.wav -b 16 out.wav`');
  }
  const frameBytes = (bits / 8) * channels;
  if (fmt.blockAlign !== frameBytes) {
    fail(file, `block align ${fmt.blockAlign} does not match ${channels} channel(s) of ${bits}-bit samples (${frameBytes})`);
  }
  if (data.size % frameBytes !== 0) {
    fail(file, `truncated: ${data.size} bytes of audio is not a whole number of ${frameBytes}-byte frames`);
  }
  return {
    format, channels, sampleRate: rate, bits, frameBytes,
    dataOffset: data.at, dataBytes: data.size, frames: data.size / frameBytes,
    encoding: isFloat ? `${bits}-bit float` : `${bits}-bit PCM`,
  };
}

/** Decodes `frames` frames from `bytes` (whole frames) into out[c][at..]. */
function decodeFrames(h: WavHeader, bytes: Uint8Array, frames: number, out: Float32Array[], at = 0): void {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const read = sampleReader(view, h.format, h.bits);
  const bytesPer = h.bits / 8;
  for (let f = 0, p = 0; f < frames; f++) {
    for (let c = 0; c < h.channels; c++, p += bytesPer) out[c]![at + f] = read(p);
  }
}

/** Decodes WAV bytes; `file` names the source in errors. */
export function decodeWav(bytes: Uint8Array, file = '<wav bytes>'): DecodedAudio {
  const h = parseWavHeader((o, n) => bytes.subarray(o, o + n), bytes.length, file);
  const out = Array.from({ length: h.channels }, () => new Float32Array(h.frames));
  decodeFrames(h, bytes.subarray(h.dataOffset, h.dataOffset + h.dataBytes), h.frames, out);
  return { sampleRate: h.sampleRate, channels: out, encoding: h.encoding };
}
function sampleReader(view: DataView, format: number, bits: number): (at: number) => number {
  if (format === FORMAT_FLOAT) {
    return bits === 32
      ? (p) => clampUnit(view.getFloat32(p, true))
      : (p) => clampUnit(view.getFloat64(p, true));
  }
  switch (bits) {
    case 8: return (p) => (view.getUint8(p) - 128) / 128;
    case 16: return (p) => view.getInt16(p, true) / 32768;
    case 24: return (p) => ((view.getUint8(p) | (view.getUint8(p + 1) << 8) | (view.getInt8(p + 2) << 16))) / 8388608;
    default: return (p) => view.getInt32(p, true) / 2147483648;
  }
}

/** Float files may hold NaN or values past full scale: clip them, as a DAC would. */
function clampUnit(v: number): number {
  if (!(v === v)) return 0;
  return v < -1 ? -1 : v > 1 ? 1 : v;
}

/** Reads and decodes a WAV file. */
export function readWav(path: string): DecodedAudio {
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(path);
  } catch (err) {
    throw new CloudlessError('E_FILE', `cannot read ${path}: ${(err as Error).message}`, { file: path, cause: err });
  }
  return decodeWav(bytes, path);
}

/** Frames per block read by WavFile.blocks() unless told otherwise (~85 ms at 48 kHz). */
export const WAV_BLOCK_FRAMES = 4096;

/**
 * A WAV file read block by block: the header is parsed and validated on
 * open, then blocks() decodes a fixed number of frames at a time into reused
 * buffers. Memory is one block of bytes and one of floats per channel,
 * whatever the file's length.
 */
export class WavFile {
  /** Bytes of the buffers the current blocks() holds (raw bytes plus floats per channel). */
  blockBytes = 0;

  private constructor(readonly path: string, private fd: number | undefined, readonly header: WavHeader) {}

  static open(path: string): WavFile {
    let fd: number;
    let size: number;
    try {
      fd = openSync(path, 'r');
      size = fstatSync(fd).size;
    } catch (err) {
      throw new CloudlessError('E_FILE', `cannot read ${path}: ${(err as Error).message}`, { file: path, cause: err });
    }
    try {
      const readAt: ReadAt = (offset, length) => {
        const b = new Uint8Array(Math.max(0, Math.min(length, size - offset)));
        const n = b.length ? readSync(fd, b, 0, b.length, offset) : 0;
        return b.subarray(0, n);
      };
      return new WavFile(path, fd, parseWavHeader(readAt, size, path));
    } catch (err) {
      closeSync(fd);
      throw err;
    }
  }

  /**
   * Yields the audio as per-channel float blocks of up to `frames` frames.
   * The arrays are reused: the next block overwrites them (and they are
   * zeroed at the end), so copy what must be kept.
   */
  *blocks(frames = WAV_BLOCK_FRAMES): Generator<Float32Array[]> {
    const h = this.header;
    const bytes = new Uint8Array(frames * h.frameBytes);
    const out = Array.from({ length: h.channels }, () => new Float32Array(frames));
    this.blockBytes = bytes.byteLength + h.channels * frames * 4;
    try {
      for (let done = 0; done < h.frames;) {
        if (this.fd === undefined) return;
        const n = Math.min(frames, h.frames - done);
        const want = n * h.frameBytes;
        let got = 0;
        while (got < want) {
          const r = readSync(this.fd, bytes, got, want - got, h.dataOffset + done * h.frameBytes + got);
          if (r === 0) fail(this.path, `truncated while reading: the file ended ${want - got} bytes into a block (was it cut while being read?)`);
          got += r;
        }
        decodeFrames(h, bytes, n, out);
        done += n;
        yield n === frames ? out : out.map((c) => c.subarray(0, n));
      }
    } finally {
      bytes.fill(0);
      for (const c of out) c.fill(0);
      this.close();
    }
  }

  close(): void {
    if (this.fd !== undefined) { closeSync(this.fd); this.fd = undefined; }
  }
}

/** The mean of the channels (a plain downmix), into `out` when given (it must hold the frames). */
export function downmix(channels: readonly Float32Array[], out?: Float32Array): Float32Array {
  if (channels.length === 1) return channels[0]!;
  const n = channels[0]!.length;
  const mix = out ? out.subarray(0, n) : new Float32Array(n);
  mix.fill(0);
  for (const ch of channels) for (let i = 0; i < n; i++) mix[i] = mix[i]! + ch[i]!;
  const k = 1 / channels.length;
  for (let i = 0; i < n; i++) mix[i] = mix[i]! * k;
  return mix;
}

/** Float samples to int16: round to nearest, saturate at full scale (x · 32768 is exact for 16-bit sources). */
export function toInt16(samples: Float32Array): Int16Array {
  const out = new Int16Array(samples.length);
  toInt16Into(samples, out, 0);
  return out;
}

/** toInt16() written into out[at..]. */
export function toInt16Into(samples: Float32Array, out: Int16Array, at: number): void {
  for (let i = 0; i < samples.length; i++) {
    const v = Math.round(samples[i]! * 32768);
    out[at + i] = v > 32767 ? 32767 : v < -32768 ? -32768 : v;
  }
}

/** Encodes mono int16 samples as a 16-bit PCM WAV (for tests and the accuracy script's fixtures). */
export function encodeWav16(samples: Int16Array, sampleRate: number, channels = 1): Uint8Array {
  const dataBytes = samples.length * 2;
  const buf = new Uint8Array(44 + dataBytes);
  const v = new DataView(buf.buffer);
  const put = (at: number, s: string) => { for (let i = 0; i < 4; i++) buf[at + i] = s.charCodeAt(i); };
  put(0, 'RIFF'); v.setUint32(4, 36 + dataBytes, true); put(8, 'WAVE');
  put(12, 'fmt '); v.setUint32(16, 16, true); v.setUint16(20, FORMAT_PCM, true); v.setUint16(22, channels, true);
  v.setUint32(24, sampleRate, true); v.setUint32(28, sampleRate * 2 * channels, true);
  v.setUint16(32, 2 * channels, true); v.setUint16(34, 16, true);
  put(36, 'data'); v.setUint32(40, dataBytes, true);
  for (let i = 0; i < samples.length; i++) v.setInt16(44 + 2 * i, samples[i]!, true);
  return buf;
}
