import { it } from 'vitest';
import { Tensor, perTensorQuant } from '../../src/ir/index.js';
import { Int16Case, int16Data, int16Quant, lcg, runLiteRtCase, runOurs } from '../helpers/int16-cases.js';

it('scratch', async () => {
  const r = lcg(7);
  const lines: string[] = [];
  const mk = (shape: number[], yq = int16Quant(1 / 32768), xq = int16Quant(0.001)) => {
    const c = new Int16Case('s');
    const n = shape.reduce((a, b) => a * b, 1);
    c.node('Softmax', [c.input('x', new Tensor('int16', shape, int16Data(n, r), xq))], yq, { axis: -1 });
    return c;
  };
  for (const [name, c] of [['rank5', mk([1, 2, 1, 2, 3])], ['rank0', mk([])], ['sy*1.0009', mk([2, 3], int16Quant(1.0009 / 32768))], ['sy*0.9991', mk([2, 3], int16Quant(0.9991 / 32768))], ['sy*1.002', mk([2, 3], int16Quant(1.002 / 32768))], ['zp1', mk([2, 3], perTensorQuant(1 / 32768, 1))], ['xzp1', mk([2, 3], undefined, perTensorQuant(0.001, 1))]] as const) {
    let a = '', b = '';
    try { const w = await runLiteRtCase(c); a = Array.from(w.data as Int16Array).join(','); } catch (e) { a = 'ERR ' + String((e as Error).message).slice(0, 200); }
    try { const w = runOurs(c); b = Array.from(w.data as Int16Array).join(','); } catch (e) { b = 'ERR ' + String((e as Error).message).slice(0, 200); }
    lines.push(`${name}: litert ${a}\n   ours ${b}`);
  }
  console.log(lines.join('\n'));
});
