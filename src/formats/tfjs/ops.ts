/**
 * The TF.js op mapping: each TF op of a graph model onto canonical ops (the
 * switch in mapNode, and the helpers of the ops that need more than one node).
 */
import { CloudlessError, Tensor, sizeOf, stridesOf, type AttrValue, type DType } from '../../ir/index.js';
import { transposeTensor } from '../../ir/tensor-ops.js';
import { Attrs, INT64_MAX, INT64_MIN, Unmappable, formatError, int64Tensor, tfDtype, type RawNode } from './model-json.js';
import { TfjsGraphBuilder } from './builder.js';

export class TfjsImporter extends TfjsGraphBuilder {
  private mapConv(inputs: string[], attrs: Attrs, kind: 'conv' | 'depthwise', fused: boolean): void {
    this.requireNHWC(attrs);
    const [x, w, ...extra] = inputs;
    if (!x || !w) throw new Unmappable('needs an input and a filter');
    const window = this.windowAttrs(attrs, true);
    const tail = fused ? this.fusedTail(attrs, extra) : { bias: undefined, activation: undefined, after: (y: string) => y };
    const dtype = this.dtypeOf(x);
    const weight = this.convWeight(w, kind);
    const attrsOut: Record<string, AttrValue> = { ...window, activation: tail.activation ?? 'none' };
    if (kind === 'conv') attrsOut.group = 1;
    const op = kind === 'conv' ? 'Conv' : 'DepthwiseConv';
    const y = this.emit1(op, tail.bias ? [x, weight, tail.bias] : [x, weight], attrsOut, [dtype], undefined, op);
    this.finish(tail.after(y!, dtype));
  }

  private mapMatMul(inputs: string[], attrs: Attrs, fused: boolean, batch: boolean): void {
    let [a, b, ...extra] = inputs;
    if (!a || !b) throw new Unmappable('needs two inputs');
    const ta = attrs.bool(batch ? 'adj_x' : 'transpose_a', false);
    const tb = attrs.bool(batch ? 'adj_y' : 'transpose_b', false);
    const tail = fused ? this.fusedTail(attrs, extra) : undefined;
    const dtype = this.dtypeOf(a);
    const swapLast = (v: string, which: string): string => {
      const t = this.constantOf(v);
      if (t) {
        const perm = [...Array(t.rank).keys()];
        [perm[t.rank - 1], perm[t.rank - 2]] = [perm[t.rank - 2]!, perm[t.rank - 1]!];
        return this.addConst(`${v}/T`, transposeTensor(t, perm));
      }
      if (batch) throw new Unmappable(`${which} of a runtime operand needs its rank, which TF.js does not record`);
      return this.emit('Transpose', [v], { perm: [1, 0] }, [dtype], undefined, `transpose_${which}`)[0]!;
    };
    if (ta) a = swapLast(a, 'a');
    if (tb) b = swapLast(b, 'b');
    let y = this.emit1('MatMul', [a, b], {}, [dtype], undefined, 'MatMul');
    if (tail) {
      if (tail.bias) y = this.emit1('Add', [y!, tail.bias], {}, [dtype], undefined, 'bias');
      if (tail.activation === 'relu') y = this.emit1('Relu', [y!], {}, [dtype], undefined, 'relu');
      else if (tail.activation === 'relu6') y = this.emit1('Clip', [y!, this.scalarConst(0, dtype), this.scalarConst(6, dtype)], {}, [dtype], undefined, 'relu6');
      y = tail.after(y!, dtype);
    }
    this.finish(y!);
  }

  private mapPool(op: 'MaxPool' | 'AveragePool', attrs: Attrs, x: string): void {
    this.requireNHWC(attrs);
    const k = attrs.ints('ksize');
    if (k.length !== 4 || k[0] !== 1 || k[3] !== 1) throw new Unmappable(`ksize must be [1, h, w, 1], got [${k.join(', ')}]`);
    const a: Record<string, AttrValue> = { kernel_shape: [k[1]!, k[2]!], ...this.windowAttrs(attrs, false) };
    // TF's SAME average pooling divides by the number of real (not padded) pixels.
    if (op === 'AveragePool') a.count_include_pad = 0;
    this.emitAs(op, [x], a, this.dtypeOf(x));
  }

  private mapStridedSlice(inputs: string[], attrs: Attrs): void {
    const [x, b, e, s] = inputs;
    if (!x || !b || !e) throw new Unmappable('needs input, begin and end');
    const begin = this.constInts(b, 'begin');
    const end = this.constInts(e, 'end');
    const strides = s ? this.constInts(s, 'strides') : begin.map(() => 1);
    const bit = (mask: number, i: number) => ((mask >>> i) & 1) === 1;
    const beginMask = attrs.int('begin_mask', 0), endMask = attrs.int('end_mask', 0);
    const ellipsisMask = attrs.int('ellipsis_mask', 0), newAxisMask = attrs.int('new_axis_mask', 0);
    const shrinkMask = attrs.int('shrink_axis_mask', 0);
    const starts: bigint[] = [], ends: bigint[] = [], axes: number[] = [], steps: bigint[] = [];
    const squeeze: number[] = [], unsqueeze: number[] = [];
    const ellipsisAt = begin.findIndex((_, i) => bit(ellipsisMask, i));
    const afterEllipsis = ellipsisAt < 0 ? 0 : begin.slice(ellipsisAt + 1).filter((_, j) => !bit(newAxisMask, ellipsisAt + 1 + j)).length;
    let inDim = 0, outDim = 0;
    for (let i = 0; i < begin.length; i++) {
      if (i === ellipsisAt) { inDim = -afterEllipsis; continue; }
      if (bit(newAxisMask, i)) {
        if (ellipsisAt >= 0 && i > ellipsisAt) throw new Unmappable('new_axis_mask after an ellipsis needs the input rank');
        unsqueeze.push(outDim++);
        continue;
      }
      const step = strides[i] ?? 1;
      if (step === 0) throw new Unmappable('a stride of 0');
      const axis = inDim++;
      if (bit(shrinkMask, i)) {
        const at = begin[i]!;
        starts.push(BigInt(at)); ends.push(at === -1 ? INT64_MAX : BigInt(at + 1)); steps.push(1n);
        axes.push(axis); squeeze.push(axis);
        continue;
      }
      starts.push(bit(beginMask, i) ? (step > 0 ? 0n : INT64_MAX) : BigInt(begin[i]!));
      ends.push(bit(endMask, i) ? (step > 0 ? INT64_MAX : INT64_MIN) : BigInt(end[i]!));
      steps.push(BigInt(step));
      axes.push(axis);
      outDim++;
    }
    const dtype = this.dtypeOf(x);
    let y = x;
    if (axes.length > 0) {
      y = this.emit1('Slice', [x, this.addConst(`${b}/starts`, int64Tensor(starts)), this.addConst(`${e}/ends`, int64Tensor(ends)),
        this.addConst(`${this.current.name}/axes`, int64Tensor(axes)), this.addConst(`${this.current.name}/steps`, int64Tensor(steps))], {}, [dtype], undefined, 'Slice');
    }
    if (squeeze.length > 0) y = this.emit1('Squeeze', [y!, this.addConst(`${this.current.name}/squeeze_axes`, int64Tensor(squeeze))], {}, [dtype], undefined, 'shrink');
    if (unsqueeze.length > 0) y = this.emit1('Unsqueeze', [y!, this.addConst(`${this.current.name}/new_axes`, int64Tensor(unsqueeze))], {}, [dtype], undefined, 'new_axis');
    if (y === x) y = this.emit1('Identity', [x], {}, [dtype], undefined, 'Identity');
    this.finish(y!);
  }

  private mapResize(inputs: string[], attrs: Attrs, mode: 'linear' | 'nearest'): void {
    const [x, size] = inputs;
    if (!x || !size) throw new Unmappable('needs images and size');
    const alignCorners = attrs.bool('align_corners', false);
    const halfPixel = attrs.bool('half_pixel_centers', false);
    const a: Record<string, AttrValue> = { mode, axes: [1, 2] };
    if (alignCorners) {
      a.coordinate_transformation_mode = 'align_corners';
      // TF rounds with std::round (half away from zero); coordinates are >= 0 here.
      if (mode === 'nearest') a.nearest_mode = 'round_prefer_ceil';
    } else if (halfPixel) {
      a.coordinate_transformation_mode = 'half_pixel';
      // TF's nearest with half-pixel centers is floor((x + 0.5) * scale) = round_prefer_ceil((x + 0.5) * scale - 0.5).
      if (mode === 'nearest') a.nearest_mode = 'round_prefer_ceil';
    } else {
      a.coordinate_transformation_mode = 'asymmetric';
      if (mode === 'nearest') a.nearest_mode = 'floor';
    }
    this.emitAs('Resize', [x, '', '', this.int64Input(size)], a, this.dtypeOf(x));
  }

  private mapPad(inputs: string[], mode: string, withValue: boolean): void {
    const [x, paddings, value] = inputs;
    if (!x || !paddings) throw new Unmappable('needs input and paddings');
    const t = this.constantOf(paddings);
    let pads: string;
    if (t) {
      if (t.rank !== 2 || t.shape[1] !== 2) throw new Unmappable('paddings must be [rank, 2]');
      const p = t.toNumbers();
      const r = t.shape[0]!;
      pads = this.addConst(`${paddings}/pads`, int64Tensor([...Array(r).keys()].map((i) => p[2 * i]!).concat([...Array(r).keys()].map((i) => p[2 * i + 1]!))));
    } else {
      const [tr] = this.emit('Transpose', [paddings], { perm: [1, 0] }, [this.dtypeOf(paddings)], undefined, 'pads_t');
      pads = this.int64Input(tr!, true);
    }
    const ins = [x, pads];
    if (withValue && value) ins.push(value);
    this.emitAs('Pad', ins, { mode }, this.dtypeOf(x));
  }

  private mapSparseToDense(inputs: string[]): void {
    const [ix, shapeV, valuesV, dflt] = inputs;
    if (!ix || !shapeV || !valuesV || !dflt) throw new Unmappable('needs 4 inputs');
    const indices = this.constantOf(ix), shape = this.constantOf(shapeV), values = this.constantOf(valuesV), fill = this.constantOf(dflt);
    if (!indices || !shape || !values || !fill) throw new Unmappable('is only supported with constant inputs (it is folded at import)');
    const outShape = shape.toNumbers();
    const rank = outShape.length;
    const dtype = values.dtype;
    const out = Tensor.fromNumbers(dtype, outShape, new Array<number>(sizeOf(outShape)).fill(fill.toNumbers()[0] ?? 0));
    const ii = indices.toNumbers();
    const count = indices.rank === 0 ? 1 : indices.shape[0]!;
    const vv = values.toNumbers();
    const strides = stridesOf(outShape);
    for (let k = 0; k < count; k++) {
      let flat = 0;
      for (let d = 0; d < rank; d++) {
        const at = indices.rank < 2 ? ii[k]! : ii[k * rank + d]!;
        if (at < 0 || at >= outShape[d]!) throw new Unmappable(`index ${at} is outside the output shape`);
        flat += at * strides[d]!;
      }
      (out.data as Float32Array)[flat] = values.rank === 0 ? vv[0]! : vv[k]!;
    }
    this.graph.setValue({ name: this.outName(0), dtype, shape: outShape, constant: out });
    this.bind(0, this.outName(0));
  }

  protected mapNode(n: RawNode, inputs: string[], attrs: Attrs): void {
    const x = inputs[0]!;
    const dtype = (): DType => this.dtypeOf(x);
    const unary = (op: string, a: Record<string, AttrValue> = {}) => {
      if (!x) throw new Unmappable('needs an input');
      this.emitAs(op, [x], a, dtype());
    };
    const binary = (op: string, outDtype?: DType) => {
      if (inputs.length !== 2) throw new Unmappable(`needs 2 inputs, got ${inputs.length}`);
      this.emitAs(op, inputs, {}, outDtype ?? dtype());
    };
    switch (n.op) {
      case 'Const': {
        const w = this.weights.get(n.name);
        if (!w) throw formatError(this.source, `Const node ${n.name} has no weight of that name in the weightsManifest`, n.name);
        if ('unsupported' in w) throw new Unmappable(w.unsupported);
        this.graph.setValue({ name: n.name, dtype: w.tensor.dtype, shape: [...w.tensor.shape], constant: w.tensor });
        this.bind(0, n.name);
        return;
      }
      case 'Placeholder': {
        const dt = tfDtype(attrs.type('dtype'));
        if (!dt) throw new CloudlessError('E_UNSUPPORTED', `${this.source}: input ${n.name} has dtype ${attrs.type('dtype') ?? 'none'}, which cloudless does not support`, { file: this.source, node: n.name });
        this.graph.setValue({ name: n.name, dtype: dt, shape: attrs.shape('shape') });
        this.graph.inputs.push(n.name);
        this.bind(0, n.name);
        return;
      }
      case 'Identity': case 'StopGradient': case 'Snapshot': case 'PlaceholderWithDefault': case 'EnsureShape': case 'CheckNumerics':
        if (!x) throw new Unmappable('needs an input');
        this.bind(0, x);
        return;
      case 'IdentityN':
        inputs.forEach((v, k) => this.bind(k, v));
        return;
      case 'NoOp':
        return;

      case 'Conv2D': return this.mapConv(inputs, attrs, 'conv', false);
      case '_FusedConv2D': return this.mapConv(inputs, attrs, 'conv', true);
      case 'DepthwiseConv2dNative': return this.mapConv(inputs, attrs, 'depthwise', false);
      case 'FusedDepthwiseConv2dNative': return this.mapConv(inputs, attrs, 'depthwise', true);
      case 'Conv2DBackpropInput': {
        this.requireNHWC(attrs);
        const [outShape, w, dy] = inputs;
        if (!outShape || !w || !dy) throw new Unmappable('needs output shape, filter and input');
        const os = this.constInts(outShape, 'output_shape');
        if (os.length !== 4) throw new Unmappable('output_shape must have 4 values');
        const window = this.windowAttrs(attrs, true);
        this.emitAs('ConvTranspose', [dy, this.convWeight(w, 'transpose')], { ...window, output_shape: [os[1]!, os[2]!], group: 1, activation: 'none' }, this.dtypeOf(dy));
        return;
      }
      case 'MatMul': return this.mapMatMul(inputs, attrs, false, false);
      case '_FusedMatMul': return this.mapMatMul(inputs, attrs, true, false);
      case 'BatchMatMul': case 'BatchMatMulV2': return this.mapMatMul(inputs, attrs, false, true);
      case 'MaxPool': return this.mapPool('MaxPool', attrs, x);
      case 'AvgPool': return this.mapPool('AveragePool', attrs, x);
      case 'FusedBatchNorm': case 'FusedBatchNormV2': case 'FusedBatchNormV3': {
        this.requireNHWC(attrs);
        if (inputs.length < 5) throw new Unmappable('needs x, scale, offset, mean and variance');
        if (attrs.bool('is_training', false)) throw new Unmappable('training mode is not supported');
        this.emitAs('BatchNormalization', inputs.slice(0, 5), { epsilon: attrs.float('epsilon', 0.0001) }, dtype());
        return;
      }
      case 'DepthToSpace': case 'SpaceToDepth': {
        this.requireNHWC(attrs);
        const a: Record<string, AttrValue> = { blocksize: attrs.int('block_size', 2) };
        if (n.op === 'DepthToSpace') a.mode = 'DCR';
        return unary(n.op, a);
      }

      case 'Add': case 'AddV2': case 'BiasAdd':
        if (n.op === 'BiasAdd') this.requireNHWC(attrs);
        return binary('Add');
      case 'Sub': return binary('Sub');
      case 'Mul': return binary('Mul');
      case 'RealDiv': case 'Div': return binary('Div');
      case 'DivNoNan': throw new Unmappable('DivNoNan has no canonical op');
      case 'Maximum': return binary('Max');
      case 'Minimum': return binary('Min');
      case 'Pow': return binary('Pow');
      case 'Equal': return binary('Equal', 'bool');
      case 'Greater': return binary('Greater', 'bool');
      case 'GreaterEqual': return binary('GreaterOrEqual', 'bool');
      case 'Less': return binary('Less', 'bool');
      case 'LessEqual': return binary('LessOrEqual', 'bool');
      case 'LogicalAnd': return binary('And', 'bool');
      case 'LogicalOr': return binary('Or', 'bool');
      case 'NotEqual': {
        const [eq] = this.emit('Equal', inputs, {}, ['bool'], undefined, 'equal');
        return this.finish(this.emit('Not', [eq!], {}, ['bool'], undefined, 'Not')[0]!);
      }
      case 'SquaredDifference': {
        const [d] = this.emit('Sub', inputs, {}, [dtype()], undefined, 'diff');
        return this.finish(this.emit('Mul', [d!, d!], {}, [dtype()], undefined, 'square')[0]!);
      }
      case 'FloorDiv': {
        if (inputs.length !== 2) throw new Unmappable('needs 2 inputs');
        const [a, b] = inputs as [string, string];
        const dt = dtype();
        if (dt === 'float32') {
          const [q] = this.emit('Div', [a, b], {}, [dt], undefined, 'div');
          return this.finish(this.emit('Floor', [q!], {}, [dt], undefined, 'floor')[0]!);
        }
        // Integer Div truncates toward zero; a - floormod(a, b) is an exact multiple of b, so dividing it floors.
        const [m] = this.emit('Mod', [a, b], { fmod: 0 }, [dt], undefined, 'mod');
        const [d] = this.emit('Sub', [a, m!], {}, [dt], undefined, 'sub');
        return this.finish(this.emit('Div', [d!, b], {}, [dt], undefined, 'div')[0]!);
      }
      case 'FloorMod': {
        if (inputs.length !== 2) throw new Unmappable('needs 2 inputs');
        const [a, b] = inputs as [string, string];
        const dt = dtype();
        if (dt !== 'float32') return this.emitAs('Mod', [a, b], { fmod: 0 }, dt);
        // ONNX Mod on floats is only fmod (sign of the dividend); TF's FloorMod takes the divisor's sign.
        const [q] = this.emit('Div', [a, b], {}, [dt], undefined, 'div');
        const [f] = this.emit('Floor', [q!], {}, [dt], undefined, 'floor');
        const [p] = this.emit('Mul', [f!, b], {}, [dt], undefined, 'mul');
        return this.finish(this.emit('Sub', [a, p!], {}, [dt], undefined, 'sub')[0]!);
      }
      case 'AddN':
        return this.emitAs('Sum', inputs, {}, dtype());
      case 'Select': case 'SelectV2': {
        if (inputs.length !== 3) throw new Unmappable('needs 3 inputs');
        return this.emitAs('Where', inputs, {}, this.dtypeOf(inputs[1]!));
      }

      case 'Relu': return unary('Relu');
      case 'Relu6':
        return this.emitAs('Clip', [x, this.scalarConst(0, dtype()), this.scalarConst(6, dtype())], {}, dtype());
      case 'Elu': return unary('Elu');
      case 'Selu': return unary('Selu');
      case 'LeakyRelu': return unary('LeakyRelu', { alpha: attrs.float('alpha', 0.2) });
      case 'Prelu': return binary('PRelu');
      case 'Sigmoid': return unary('Sigmoid');
      case 'Tanh': return unary('Tanh');
      case 'Softplus': return unary('Softplus');
      case 'Softsign': return unary('Softsign');
      case 'Exp': return unary('Exp');
      case 'Log': return unary('Log');
      case 'Sqrt': return unary('Sqrt');
      case 'Abs': return unary('Abs');
      case 'Neg': return unary('Neg');
      case 'Floor': return unary('Floor');
      case 'Ceil': return unary('Ceil');
      case 'Round': return unary('Round');
      case 'Sign': return unary('Sign');
      case 'Erf': return unary('Erf');
      case 'Sin': return unary('Sin');
      case 'Cos': return unary('Cos');
      case 'Tan': return unary('Tan');
      case 'Asin': return unary('Asin');
      case 'Acos': return unary('Acos');
      case 'Atan': return unary('Atan');
      case 'Sinh': return unary('Sinh');
      case 'Cosh': return unary('Cosh');
      case 'Asinh': return unary('Asinh');
      case 'Acosh': return unary('Acosh');
      case 'Atanh': return unary('Atanh');
      case 'Reciprocal': case 'Inv': return unary('Reciprocal');
      case 'IsNan': return this.emitAs('IsNaN', [x], {}, 'bool');
      case 'LogicalNot': return unary('Not');
      case 'Rsqrt': {
        const [s] = this.emit('Sqrt', [x], {}, [dtype()], undefined, 'sqrt');
        return this.finish(this.emit('Reciprocal', [s!], {}, [dtype()], undefined, 'reciprocal')[0]!);
      }
      case 'Square': return this.emitAs('Mul', [x, x], {}, dtype());
      case 'Log1p': {
        const [s] = this.emit('Add', [x, this.scalarConst(1, dtype())], {}, [dtype()], undefined, 'add1');
        return this.finish(this.emit('Log', [s!], {}, [dtype()], undefined, 'log')[0]!);
      }
      case 'Expm1': {
        const [e] = this.emit('Exp', [x], {}, [dtype()], undefined, 'exp');
        return this.finish(this.emit('Sub', [e!, this.scalarConst(1, dtype())], {}, [dtype()], undefined, 'sub1')[0]!);
      }
      case 'ClipByValue':
        if (inputs.length !== 3) throw new Unmappable('needs 3 inputs');
        return this.emitAs('Clip', inputs, {}, dtype());
      case 'Softmax': return unary('Softmax', { axis: -1 });
      case 'LogSoftmax': return unary('LogSoftmax', { axis: -1 });

      case 'Mean': case 'Sum': case 'Max': case 'Min': case 'Prod': {
        if (inputs.length !== 2) throw new Unmappable('needs input and axes');
        const op = { Mean: 'ReduceMean', Sum: 'ReduceSum', Max: 'ReduceMax', Min: 'ReduceMin', Prod: 'ReduceProd' }[n.op]!;
        // TF reduces over nothing when the axes list is empty, which ONNX spells noop_with_empty_axes.
        return this.emitAs(op, [x, this.int64Input(inputs[1]!, true)], { keepdims: attrs.bool('keep_dims', false) ? 1 : 0, noop_with_empty_axes: 1 }, dtype());
      }
      case 'ArgMax': case 'ArgMin': {
        if (inputs.length !== 2) throw new Unmappable('needs input and dimension');
        const [axis] = this.constInts(inputs[1]!, 'dimension');
        const [i] = this.emit(n.op, [x], { axis: axis!, keepdims: 0 }, ['int64'], undefined, n.op);
        return this.finish(this.emit('Cast', [i!], { to: 'int32' }, ['int32'], undefined, 'as_int32')[0]!);
      }
      case 'TopKV2': {
        if (inputs.length !== 2) throw new Unmappable('needs input and k');
        if (!attrs.bool('sorted', true)) throw new Unmappable('sorted=false is not supported');
        const [values, indices] = this.emit('TopK', [x, this.int64Input(inputs[1]!, true)], { axis: -1, largest: 1, sorted: 1 }, [dtype(), 'int64'],
          [this.outName(0), this.fresh(`${n.name}/indices_i64`)]);
        this.bind(0, values!);
        const [i32] = this.emit('Cast', [indices!], { to: 'int32' }, ['int32'], [this.outName(1)]);
        this.bind(1, i32!);
        return;
      }

      case 'Cast': {
        const to = tfDtype(attrs.type('DstT'));
        if (!to) throw new Unmappable(`cast to ${attrs.type('DstT') ?? 'nothing'} is not supported`);
        return this.emitAs('Cast', [x], { to }, to);
      }
      case 'ConcatV2': case 'Concat': {
        const axisFirst = n.op === 'Concat';
        const axisValue = axisFirst ? inputs[0] : inputs[inputs.length - 1];
        const data = axisFirst ? inputs.slice(1) : inputs.slice(0, -1);
        if (!axisValue || data.length === 0) throw new Unmappable('needs values and an axis');
        const [axis] = this.constInts(axisValue, 'axis');
        return this.emitAs('Concat', data, { axis: axis! }, this.dtypeOf(data[0]!));
      }
      case 'Pack': {
        const axis = attrs.int('axis', 0);
        const axes = this.addConst(`${n.name}/axis`, int64Tensor([axis]));
        const parts = inputs.map((v, k) => this.emit('Unsqueeze', [v, axes], {}, [this.dtypeOf(v)], undefined, `unsqueeze_${k}`)[0]!);
        return this.finish(this.emit('Concat', parts, { axis }, [dtype()], undefined, 'Concat')[0]!);
      }
      case 'Unpack': {
        const axis = attrs.int('axis', 0);
        const num = attrs.int('num', 0);
        if (num < 1) throw new Unmappable('num must be given');
        const parts = this.emit('Split', [x], { axis, num_outputs: num }, new Array<DType>(num).fill(dtype()), undefined, 'Split');
        const axes = this.addConst(`${n.name}/axis`, int64Tensor([axis]));
        parts.forEach((p, k) => {
          const [s] = this.emit('Squeeze', [p, axes], {}, [dtype()], [this.outName(k)]);
          this.bind(k, s!);
        });
        return;
      }
      case 'Split': case 'SplitV': {
        const num = attrs.int('num_split', 0);
        if (num < 1) throw new Unmappable('num_split must be given');
        const [data, dimValue, sizes] = n.op === 'Split' ? [inputs[1], inputs[0], undefined] : [inputs[0], inputs[2], inputs[1]];
        if (!data || !dimValue) throw new Unmappable('needs value and split_dim');
        const [axis] = this.constInts(dimValue, 'split_dim');
        const ins = [data];
        if (sizes) {
          const s = this.constInts(sizes, 'size_splits');
          if (s.includes(-1)) throw new Unmappable('a size_splits entry of -1 needs the input shape');
          ins.push(this.addConst(`${sizes}/i64`, int64Tensor(s)));
        }
        const outs = Array.from({ length: num }, (_, k) => this.outName(k));
        this.emit('Split', ins, sizes ? { axis: axis! } : { axis: axis!, num_outputs: num }, outs.map(() => this.dtypeOf(data)), outs);
        outs.forEach((o, k) => this.bind(k, o));
        return;
      }
      case 'Reshape':
        if (inputs.length !== 2) throw new Unmappable('needs tensor and shape');
        return this.emitAs('Reshape', [x, this.int64Input(inputs[1]!)], {}, dtype());
      case 'Squeeze': {
        const dims = attrs.ints('squeeze_dims').length > 0 ? attrs.ints('squeeze_dims') : attrs.ints('axis');
        return this.emitAs('Squeeze', dims.length > 0 ? [x, this.addConst(`${n.name}/axes`, int64Tensor(dims))] : [x], {}, dtype());
      }
      case 'ExpandDims':
        if (inputs.length !== 2) throw new Unmappable('needs input and dim');
        return this.emitAs('Unsqueeze', [x, this.int64Input(inputs[1]!, true)], {}, dtype());
      case 'Transpose': {
        if (inputs.length !== 2) throw new Unmappable('needs x and perm');
        return this.emitAs('Transpose', [x], { perm: this.constInts(inputs[1]!, 'perm') }, dtype());
      }
      case 'StridedSlice': return this.mapStridedSlice(inputs, attrs);
      case 'Slice': {
        const [, b, s] = inputs;
        if (!b || !s) throw new Unmappable('needs input, begin and size');
        const begin = this.constInts(b, 'begin');
        const size = this.constInts(s, 'size');
        const ends = begin.map((v, i) => (size[i] === -1 ? INT64_MAX : BigInt(v + size[i]!)));
        return this.emitAs('Slice', [x, this.addConst(`${b}/starts`, int64Tensor(begin)), this.addConst(`${s}/ends`, int64Tensor(ends))], {}, dtype());
      }
      case 'Pad': return this.mapPad(inputs, 'constant', false);
      case 'PadV2': return this.mapPad(inputs, 'constant', true);
      case 'MirrorPad': {
        const mode = attrs.string('mode', 'REFLECT');
        if (mode !== 'REFLECT') throw new Unmappable(`MirrorPad mode ${mode} has no canonical op (only REFLECT)`);
        return this.mapPad(inputs, 'reflect', false);
      }
      case 'ResizeBilinear': return this.mapResize(inputs, attrs, 'linear');
      case 'ResizeNearestNeighbor': return this.mapResize(inputs, attrs, 'nearest');
      case 'Shape': case 'Size': {
        const [s] = this.emit(n.op, [x], {}, ['int64'], undefined, n.op);
        return this.finish(this.emit('Cast', [s!], { to: 'int32' }, ['int32'], undefined, 'as_int32')[0]!);
      }
      case 'Fill': case 'BroadcastTo': {
        if (inputs.length !== 2) throw new Unmappable('needs 2 inputs');
        const [value, shape] = n.op === 'Fill' ? [inputs[1]!, inputs[0]!] : [inputs[0]!, inputs[1]!];
        return this.emitAs('Expand', [value, this.int64Input(shape)], {}, this.dtypeOf(value));
      }
      case 'ZerosLike': case 'OnesLike': {
        const [s] = this.emit('Shape', [x], {}, ['int64'], undefined, 'Shape');
        return this.emitAs('Expand', [this.scalarConst(n.op === 'ZerosLike' ? 0 : 1, dtype()), s!], {}, dtype());
      }
      case 'Tile':
        if (inputs.length !== 2) throw new Unmappable('needs input and multiples');
        return this.emitAs('Tile', [x, this.int64Input(inputs[1]!)], {}, dtype());
      case 'Range':
        if (inputs.length !== 3) throw new Unmappable('needs start, limit and delta');
        return this.emitAs('Range', inputs, {}, dtype());
      case 'GatherV2': case 'Gather': {
        if (attrs.int('batch_dims', 0) !== 0) throw new Unmappable('batch_dims other than 0 is not supported');
        const [params, indices, axisValue] = inputs;
        if (!params || !indices) throw new Unmappable('needs params and indices');
        const axis = axisValue ? this.constInts(axisValue, 'axis')[0]! : 0;
        return this.emitAs('Gather', [params, indices], { axis }, this.dtypeOf(params));
      }
      case 'GatherNd':
        if (inputs.length !== 2) throw new Unmappable('needs params and indices');
        return this.emitAs('GatherND', [x, this.int64Input(inputs[1]!)], { batch_dims: 0 }, dtype());
      case 'Cumsum':
        if (inputs.length !== 2) throw new Unmappable('needs x and axis');
        return this.emitAs('CumSum', [x, this.int64Input(inputs[1]!)], { exclusive: attrs.bool('exclusive', false) ? 1 : 0, reverse: attrs.bool('reverse', false) ? 1 : 0 }, dtype());
      case 'Where': {
        if (inputs.length !== 1) throw new Unmappable('only the one-input form (coordinates of true values) is supported');
        const [nz] = this.emit('NonZero', [x], {}, ['int64'], undefined, 'NonZero');
        const [t] = this.emit('Transpose', [nz!], { perm: [1, 0] }, ['int64'], undefined, 'coords');
        return this.finish(this.emit('Cast', [t!], { to: 'int32' }, ['int32'], undefined, 'as_int32')[0]!);
      }
      case 'OneHot': {
        if (inputs.length !== 4) throw new Unmappable('needs indices, depth, on_value and off_value');
        const [indices, depth, on, off] = inputs as [string, string, string, string];
        const zero = this.addConst(`${n.name}/axis0`, int64Tensor([0]));
        const [offV] = this.emit('Unsqueeze', [off, zero], {}, [this.dtypeOf(off)], undefined, 'off');
        const [onV] = this.emit('Unsqueeze', [on, zero], {}, [this.dtypeOf(on)], undefined, 'on');
        const [vals] = this.emit('Concat', [offV!, onV!], { axis: 0 }, [this.dtypeOf(on)], undefined, 'values');
        return this.emitAs('OneHot', [indices, depth, vals!], { axis: attrs.int('axis', -1) }, this.dtypeOf(on));
      }
      case 'SparseToDense': return this.mapSparseToDense(inputs);
      default:
        throw new Unmappable(`TF op ${n.op} has no mapping onto the canonical op set`);
    }
  }
}
