/**
 * Data movement: Transpose of up to four (merged) axes for 1- and 4-byte
 * elements. The binding merges axes that stay adjacent and drops size-1
 * axes, so NCHW↔NHWC of a batch-1 image is a rank-2 or rank-3 problem.
 * The output is written in order; `s0..s3` are the input strides (in
 * elements) of the output's axes d0..d3.
 */

@inline function transposeRows<T>(x: usize, y: usize, d0: i32, d1: i32, d2: i32, d3: i32, s0: i32, s1: i32, s2: i32, s3: i32): void {
  const size = <usize>sizeof<T>();
  let yo = y;
  for (let i0 = 0; i0 < d0; i0++) {
    for (let i1 = 0; i1 < d1; i1++) {
      for (let i2 = 0; i2 < d2; i2++) {
        let xi = x + <usize>(i0 * s0 + i1 * s1 + i2 * s2) * size;
        const step = <usize>s3 * size;
        for (let i3 = 0; i3 < d3; i3++) {
          store<T>(yo, load<T>(xi));
          yo += size;
          xi += step;
        }
      }
    }
  }
}

/**
 * Transposes a 2-D block [rows, cols] (input row stride `cols`) into
 * [cols, rows] in 4×4 tiles, so both sides are read and written in short
 * runs instead of one of them with a large stride. Tails go element by
 * element. Used for the last two merged axes of a 4-byte transpose.
 */
function transposeTiles32(x: usize, y: usize, rows: i32, cols: i32): void {
  const r4 = rows & ~3, c4 = cols & ~3;
  const xRow = <usize>cols << 2, yRow = <usize>rows << 2;
  for (let r = 0; r < r4; r += 4) {
    for (let c = 0; c < c4; c += 4) {
      const p = x + <usize>r * xRow + (<usize>c << 2);
      const a = v128.load(p), b = v128.load(p + xRow), cc = v128.load(p + 2 * xRow), d = v128.load(p + 3 * xRow);
      const ab0 = i32x4.shuffle(a, b, 0, 4, 1, 5), ab1 = i32x4.shuffle(a, b, 2, 6, 3, 7);
      const cd0 = i32x4.shuffle(cc, d, 0, 4, 1, 5), cd1 = i32x4.shuffle(cc, d, 2, 6, 3, 7);
      const q = y + <usize>c * yRow + (<usize>r << 2);
      v128.store(q, i64x2.shuffle(ab0, cd0, 0, 2));
      v128.store(q + yRow, i64x2.shuffle(ab0, cd0, 1, 3));
      v128.store(q + 2 * yRow, i64x2.shuffle(ab1, cd1, 0, 2));
      v128.store(q + 3 * yRow, i64x2.shuffle(ab1, cd1, 1, 3));
    }
    for (let c = c4; c < cols; c++) {
      for (let k = r; k < r + 4; k++) store<u32>(y + <usize>c * yRow + (<usize>k << 2), load<u32>(x + <usize>k * xRow + (<usize>c << 2)));
    }
  }
  for (let r = r4; r < rows; r++) {
    for (let c = 0; c < cols; c++) store<u32>(y + <usize>c * yRow + (<usize>r << 2), load<u32>(x + <usize>r * xRow + (<usize>c << 2)));
  }
}

/**
 * `tiled` says the last two output axes are a plain 2-D transpose of the
 * input (s3 = d2 and s2 = 1, both contiguous): then each (i0, i1) block
 * goes through transposeTiles32.
 */
export function transpose(x: usize, y: usize, bytes: i32, d0: i32, d1: i32, d2: i32, d3: i32, s0: i32, s1: i32, s2: i32, s3: i32, tiled: bool): void {
  if (bytes == 4 && tiled) {
    const block = <usize>(d2 * d3) << 2;
    let yo = y;
    for (let i0 = 0; i0 < d0; i0++) {
      for (let i1 = 0; i1 < d1; i1++) {
        transposeTiles32(x + (<usize>(i0 * s0 + i1 * s1) << 2), yo, d3, d2);
        yo += block;
      }
    }
    return;
  }
  if (bytes == 4) transposeRows<u32>(x, y, d0, d1, d2, d3, s0, s1, s2, s3);
  else transposeRows<u8>(x, y, d0, d1, d2, d3, s0, s1, s2, s3);
}

/** End of the module's static data (scratch buffers such as gemm_i8's rotated rows): the binding's regions start after it. */
export function heap_base(): usize {
  return __heap_base;
}
