import { CloudlessError } from './errors.js';
import type { DType } from './dtype.js';
import type { QuantParams, Tensor } from './tensor.js';

/** A declared dimension: a number, a symbolic name (ONNX dim_param), or null when unknown. */
export type Dim = number | string | null;

/** A value flowing through the graph: a graph input, a weight (constant) or a node output. */
export interface Value {
  name: string;
  dtype: DType;
  /** Declared shape; undefined when the format does not say. */
  shape?: Dim[];
  /** Set for weights and other constants. */
  constant?: Tensor;
  quant?: QuantParams;
}

export type AttrValue = number | string | boolean | number[] | string[] | Tensor | Graph | Graph[];

/**
 * One operation. `op` is a canonical op name (see docs/ops.md); inputs and outputs
 * are value names, and an empty string marks an optional input that is absent.
 */
export interface Node {
  name: string;
  op: string;
  inputs: string[];
  outputs: string[];
  attrs: Record<string, AttrValue>;
}

export interface GraphMeta {
  format: 'onnx' | 'tflite' | 'tfjs' | 'cloudless';
  /** Where the model came from, for error messages. */
  source?: string;
  producer?: string;
  /** Opset versions by domain ('' is the default ONNX domain). */
  opsets?: Record<string, number>;
  irVersion?: number;
  /** Warnings raised while importing (tolerated oddities of the file). */
  warnings?: string[];
  /** Free-form key/value metadata of the file (ONNX metadata_props). */
  properties?: Record<string, string>;
}

/**
 * A model in cloudless's canonical form: one op set, channels-last (NHWC) layout
 * for layout-sensitive ops, nodes in topological order.
 */
export class Graph {
  name: string;
  readonly values = new Map<string, Value>();
  nodes: Node[] = [];
  inputs: string[] = [];
  outputs: string[] = [];
  meta: GraphMeta;

  constructor(name: string, meta: GraphMeta) {
    this.name = name;
    this.meta = meta;
  }

  /** Adds or replaces a value. */
  setValue(v: Value): Value {
    this.values.set(v.name, v);
    return v;
  }

  value(name: string): Value {
    const v = this.values.get(name);
    if (!v) throw new CloudlessError('E_GRAPH', `graph ${this.name}: no value named "${name}"`);
    return v;
  }

  /** The constant tensor of value `name`, or undefined (no name, no such value, or not a constant). */
  constant(name: string | undefined): Tensor | undefined {
    return name ? this.values.get(name)?.constant : undefined;
  }

  addNode(node: Node): Node {
    this.nodes.push(node);
    return node;
  }

  /** A value name not used yet, derived from `base`. */
  uniqueName(base: string): string {
    if (!this.values.has(base)) return base;
    for (let i = 1; ; i++) {
      const name = `${base}_${i}`;
      if (!this.values.has(name)) return name;
    }
  }

  /** Map from value name to the node that produces it. */
  producers(): Map<string, Node> {
    const m = new Map<string, Node>();
    for (const n of this.nodes) for (const o of n.outputs) if (o) m.set(o, n);
    return m;
  }

  /** Map from value name to the nodes that read it. */
  consumers(): Map<string, Node[]> {
    const m = new Map<string, Node[]>();
    for (const n of this.nodes) {
      for (const i of n.inputs) {
        if (!i) continue;
        let list = m.get(i);
        if (!list) m.set(i, (list = []));
        if (!list.includes(n)) list.push(n);
      }
    }
    return m;
  }

  /** Sum of the bytes of all constant values. */
  weightBytes(): number {
    let n = 0;
    for (const v of this.values.values()) if (v.constant) n += v.constant.byteLength;
    return n;
  }

  /**
   * Puts nodes in topological order and checks that every input is defined.
   * Throws E_GRAPH naming the node on a dangling input or a cycle.
   */
  sortTopologically(): void {
    const produced = new Map<string, Node>();
    for (const n of this.nodes) {
      for (const o of n.outputs) {
        if (!o) continue;
        if (produced.has(o) || this.values.get(o)?.constant || this.inputs.includes(o)) {
          throw new CloudlessError('E_GRAPH', `graph ${this.name}: value "${o}" is defined twice (node ${n.name})`, { node: n.name });
        }
        produced.set(o, n);
      }
    }
    const ready = (name: string) => !name || this.inputs.includes(name) || this.values.get(name)?.constant !== undefined;
    const done = new Set<Node>();
    const order: Node[] = [];
    const visiting = new Set<Node>();
    const visit = (n: Node): void => {
      if (done.has(n)) return;
      if (visiting.has(n)) throw new CloudlessError('E_GRAPH', `graph ${this.name}: cycle through node ${n.name}`, { node: n.name });
      visiting.add(n);
      for (const i of n.inputs) {
        if (ready(i)) continue;
        const p = produced.get(i);
        if (!p) {
          throw new CloudlessError('E_GRAPH', `graph ${this.name}: node ${n.name} (${n.op}) reads "${i}", which nothing defines`, { node: n.name });
        }
        visit(p);
      }
      visiting.delete(n);
      done.add(n);
      order.push(n);
    };
    for (const n of this.nodes) visit(n);
    this.nodes = order;
  }
}
