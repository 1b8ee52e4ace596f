/**
 * Images sharp (libvips) cannot read. BMP — the TFLite Micro example images are
 * BMPs — is decoded here: uncompressed 1, 4, 8 (palette), 16, 24 and 32 bits
 * (BI_RGB, BI_BITFIELDS), BITMAPINFOHEADER and the V4/V5 headers, bottom-up or
 * top-down; RLE and OS/2 headers are refused by name. (The npm decoders were
 * tried: fast-bmp reads only V5 headers, and bmp-ts 1.0.9 writes 8-bit palette
 * pixels in ABGR whatever its toRGBA option says.) Other formats are named from
 * their magic bytes, so the error says what the file is.
 *
 * The header is checked before any pixel is read: a 100-byte file can claim a
 * 60000 x 60000 image, and the pixel array must lie inside the file.
 */
import { CloudlessError } from '../../ir/index.js';

/** Formats recognised by their first bytes that sharp's prebuilt libvips does not decode. */
const MAGIC: { name: string; test: (b: Uint8Array) => boolean }[] = [
  { name: 'BMP', test: (b) => b[0] === 0x42 && b[1] === 0x4d },
  { name: 'ICO', test: (b) => b[0] === 0 && b[1] === 0 && b[2] === 1 && b[3] === 0 },
  { name: 'CUR', test: (b) => b[0] === 0 && b[1] === 0 && b[2] === 2 && b[3] === 0 },
  { name: 'PSD', test: (b) => ascii(b, 0, 4) === '8BPS' },
  { name: 'QOI', test: (b) => ascii(b, 0, 4) === 'qoif' },
  { name: 'DDS', test: (b) => ascii(b, 0, 4) === 'DDS ' },
  { name: 'JPEG 2000', test: (b) => ascii(b, 4, 8) === 'jP  ' || (b[0] === 0xff && b[1] === 0x4f && b[2] === 0xff && b[3] === 0x51) },
  { name: 'JPEG XL', test: (b) => (b[0] === 0xff && b[1] === 0x0a) || ascii(b, 4, 8) === 'JXL ' },
  { name: 'HEIC', test: (b) => ascii(b, 4, 8) === 'ftyp' && ['heic', 'heix', 'hevc', 'mif1', 'msf1'].includes(ascii(b, 8, 12)) },
  { name: 'PCX', test: (b) => b[0] === 0x0a && b[1]! <= 5 && b[2] === 1 },
  { name: 'OpenEXR', test: (b) => b[0] === 0x76 && b[1] === 0x2f && b[2] === 0x31 && b[3] === 0x01 },
];

function ascii(b: Uint8Array, from: number, to: number): string {
  return b.length < to ? '' : String.fromCharCode(...b.subarray(from, to));
}

/** The format a file's first bytes announce, among those sharp cannot read; undefined otherwise. */
export function sniffForeignFormat(bytes: Uint8Array): string | undefined {
  return MAGIC.find((m) => m.test(bytes))?.name;
}

/** Decodes a BMP file to packed RGB (an alpha channel, which BMPs rarely mean, is dropped). */
export function decodeBmp(bytes: Uint8Array, name: string, maxPixels: number): { data: Uint8Array; width: number; height: number } {
  const bad = (m: string, hint?: string): CloudlessError => new CloudlessError('E_IMAGE', `image ${name}: BMP ${m}`, { file: name, ...(hint ? { hint } : {}) });
  if (bytes.length < 26) throw bad(`is truncated: ${bytes.length} bytes, shorter than its header`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const offset = view.getUint32(10, true);
  const headerSize = view.getUint32(14, true);
  if (headerSize < 40) throw bad(`header of ${headerSize} bytes (OS/2 BITMAPCOREHEADER) is not supported`);
  if (bytes.length < 14 + headerSize) throw bad('is truncated inside its header');
  const width = view.getInt32(18, true);
  const height = Math.abs(view.getInt32(22, true));
  const bits = view.getUint16(28, true);
  if (width < 1 || height < 1) throw bad(`claims a ${width}x${height} image`);
  if (width * height > maxPixels) throw bad(`claims ${width}x${height} pixels, over the limit of ${maxPixels}`);
  if (![1, 4, 8, 16, 24, 32].includes(bits)) throw bad(`has ${bits} bits per pixel, not one of 1, 4, 8, 16, 24, 32`);
  const compression = view.getUint32(30, true);
  // Uncompressed rows are padded to 4 bytes; the pixel array must be all there.
  const rowBytes = Math.ceil((width * bits) / 32) * 4;
  if ((compression === 0 || compression === 3 || compression === 6) && offset + rowBytes * height > bytes.length) {
    throw bad(`is truncated: its ${width}x${height} pixels need ${offset + rowBytes * height} bytes, the file has ${bytes.length}`);
  }
  if (compression !== 0 && !(compression === 3 && (bits === 16 || bits === 32))) {
    throw bad(`compression ${compression} (${compression === 1 || compression === 2 ? 'RLE' : 'not BI_RGB or BI_BITFIELDS'}) is not supported`, 'convert it to an uncompressed BMP or PNG');
  }
  const topDown = view.getInt32(22, true) < 0;
  const colours = view.getUint32(46, true) || (bits <= 8 ? 2 ** bits : 0);
  const palette = 14 + headerSize;
  if (bits <= 8 && palette + colours * 4 > offset) throw bad(`palette of ${colours} colours overlaps the pixels`);
  // Bit fields: masks follow a 40-byte header, or sit in the V4/V5 header itself; default 5-5-5 / 8-8-8.
  const masks = compression === 3 ? [0, 1, 2].map((i) => view.getUint32(54 + i * 4, true))
    : bits === 16 ? [0x7c00, 0x03e0, 0x001f] : [0xff0000, 0xff00, 0xff];
  const channel = masks.map((m) => {
    if (m === 0) return { shift: 0, max: 1 };
    let shift = 0;
    while (((m >>> shift) & 1) === 0) shift++;
    return { shift, max: m >>> shift };
  });
  const rgb = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    const rowStart = offset + (topDown ? y : height - 1 - y) * rowBytes;
    for (let x = 0; x < width; x++) {
      const o = (y * width + x) * 3;
      if (bits <= 8) {
        const bitPos = x * bits;
        const byte = bytes[rowStart + (bitPos >> 3)]!;
        const idx = (byte >> (8 - bits - (bitPos & 7))) & ((1 << bits) - 1);
        if (idx >= colours) throw bad(`pixel (${x}, ${y}) uses colour ${idx}, past the ${colours}-colour palette`);
        const p = palette + idx * 4;
        rgb[o] = bytes[p + 2]!; rgb[o + 1] = bytes[p + 1]!; rgb[o + 2] = bytes[p]!;
      } else if (bits === 24) {
        const p = rowStart + x * 3;
        rgb[o] = bytes[p + 2]!; rgb[o + 1] = bytes[p + 1]!; rgb[o + 2] = bytes[p]!;
      } else {
        const v = bits === 16 ? view.getUint16(rowStart + x * 2, true) : view.getUint32(rowStart + x * 4, true);
        for (let c = 0; c < 3; c++) {
          const { shift, max } = channel[c]!;
          rgb[o + c] = Math.round((((v & masks[c]!) >>> shift) * 255) / max);
        }
      }
    }
  }
  return { data: rgb, width, height };
}
