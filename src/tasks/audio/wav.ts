/**
 * WAV (RIFF/WAVE) decoding: PCM 8 (unsigned), 16, 24 and 32-bit integers and
 * 32/64-bit IEEE float, WAVE_FORMAT_EXTENSIBLE with either of those, any
 * number of channels, any sample rate. Samples come out as float32 in
 * [-1, 1) per channel; 16-bit input survives the trip to float32 and back
 * (toInt16) exactly, which the bit-exact micro_speech features rely on.
 *
 * Malformed files give an E_AUDIO CloudlessError naming the file and what is
 * wrong; nothing here can loop or allocate more than the file's own size.
 */
import { readFileSync } from 'node:fs';
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

/** Decodes WAV bytes; `file` names the source in errors. */
export function decodeWav(bytes: Uint8Array, file = '<wav bytes>'): DecodedAudio {
  if (bytes.length < 12 || fourCC(bytes, 0) !== 'RIFF' || fourCC(bytes, 8) !== 'WAVE') {
    fail(file, 'not a WAV file (no RIFF/WAVE header)', 'cloudless reads PCM or float WAV; convert other formats with sox or ffmpeg');
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let fmt: { format: number; channels: number; rate: number; bits: number; blockAlign: number } | undefined;
  let data: { at: number; size: number } | undefined;
  let at = 12;
  while (at + 8 <= bytes.length && !data) {
    const id = fourCC(bytes, at);
    const size = view.getUint32(at + 4, true);
    const body = at + 8;
    if (id === 'fmt ') {
      if (size < 16 || body + 16 > bytes.length) fail(file, `fmt chunk of ${size} bytes is too short`);
      let format = view.getUint16(body, true);
      if (format === FORMAT_EXTENSIBLE) {
        if (size < 40 || body + 26 > bytes.length) fail(file, 'WAVE_FORMAT_EXTENSIBLE header is truncated');
        format = view.getUint16(body + 24, true);
      }
      fmt = {
        format,
        channels: view.getUint16(body + 2, true),
        rate: view.getUint32(body + 4, true),
        bits: view.getUint16(body + 14, true),
        blockAlign: view.getUint16(body + 12, true),
      };
    } else if (id === 'data') {
      if (!fmt) fail(file, 'data chunk comes before the fmt chunk');
      const available = bytes.length - body;
      if (size === UNKNOWN_SIZE || (size === 0 && available > 0)) {
        data = { at: body, size: available };
      } else {
        if (size > available) {
          fail(file, `truncated: the header declares ${size} bytes of audio but only ${available} follow`,
            'the file was cut short (an interrupted copy or recording); re-export it');
        }
        data = { at: body, size };
      }
    }
    // Chunks are padded to an even size.
    at = body + size + (size & 1);
  }
  if (!fmt) fail(file, 'no fmt chunk');
  if (!data) fail(file, 'no data chunk');
  const { format, channels, rate, bits } = fmt;
  if (channels < 1) fail(file, 'the header declares 0 channels');
  if (rate < 1 || rate > 1_000_000) fail(file, `implausible sample rate ${rate} Hz`);
  const bytesPer = bits / 8;
  const isInt = format === FORMAT_PCM && (bits === 8 || bits === 16 || bits === 24 || bits === 32);
  const isFloat = format === FORMAT_FLOAT && (bits === 32 || bits === 64);
  if (!isInt && !isFloat) {
    fail(file, `unsupported encoding (format tag ${format}, ${bits} bits per sample)`,
      'supported: PCM 8/16/24/32-bit and IEEE float 32/64-bit; convert with `sox in.wav -b 16 out.wav`');
  }
  const frameBytes = bytesPer * channels;
  if (fmt.blockAlign !== frameBytes) {
    fail(file, `block align ${fmt.blockAlign} does not match ${channels} channel(s) of ${bits}-bit samples (${frameBytes})`);
  }
  if (data.size % frameBytes !== 0) {
    fail(file, `truncated: ${data.size} bytes of audio is not a whole number of ${frameBytes}-byte frames`);
  }
  const frames = data.size / frameBytes;
  const out = Array.from({ length: channels }, () => new Float32Array(frames));
  const read = sampleReader(view, format, bits);
  for (let f = 0, p = data.at; f < frames; f++) {
    for (let c = 0; c < channels; c++, p += bytesPer) out[c]![f] = read(p);
  }
  return { sampleRate: rate, channels: out, encoding: isFloat ? `${bits}-bit float` : `${bits}-bit PCM` };
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

/** The mean of the channels (a plain downmix). */
export function downmix(channels: readonly Float32Array[]): Float32Array {
  if (channels.length === 1) return channels[0]!;
  const n = channels[0]!.length;
  const out = new Float32Array(n);
  for (const ch of channels) for (let i = 0; i < n; i++) out[i] = out[i]! + ch[i]!;
  const k = 1 / channels.length;
  for (let i = 0; i < n; i++) out[i] = out[i]! * k;
  return out;
}

/** Float samples to int16: round to nearest, saturate at full scale (x · 32768 is exact for 16-bit sources). */
export function toInt16(samples: Float32Array): Int16Array {
  const out = new Int16Array(samples.length);
  for (let i = 0; i < samples.length; i++) {
    const v = Math.round(samples[i]! * 32768);
    out[i] = v > 32767 ? 32767 : v < -32768 ? -32768 : v;
  }
  return out;
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
