/**
 * TF.js graph-model importer: `model.json` (format "graph-model") plus its weight
 * shards → a canonical cloudless Graph.
 *
 * How a TF.js graph model is laid out:
 *   - `modelTopology.node[]` is a TensorFlow GraphDef in protobuf-JSON form: each node has
 *     `name`, `op`, `input` ("node", "node:1" for output 1, "^node" for a control edge) and
 *     `attr`, where every attribute is a one-key wrapper ({i: "int64 as string"}, {f}, {b},
 *     {s: base64}, {type: "DT_FLOAT"}, {shape}, {list: {i|f|s|type: [...]}}, {tensor}).
 *   - Const nodes carry no data in the json: their values are the weights of the same name in
 *     `weightsManifest`, whose groups' shards are one byte stream read in manifest order.
 *
 * TF is already NHWC, so layout-sensitive ops map onto canonical ops without transposes; only
 * weights change layout (Conv2D HWIO → OHWI, depthwise HWCM → 1HW(C·M)). TF.js has no int64:
 * like TF.js, every integer tensor here is int32, and int64 results of canonical ops (TopK
 * indices, Shape, ArgMax) are cast back to int32 so that later TF arithmetic sees one dtype.
 *
 * A TF op with no mapping still imports, as op `tfjs.<Op>`, so that `cloudless info` can list
 * it; a Session refuses such a graph (see `unsupportedTfjsOps`).
 */
import { CloudlessError, checkGraphInputDims, type Graph } from '../../ir/index.js';
import { TFJS_UNSUPPORTED_PREFIX, decodeWeights, unsupportedTfjsOps, parseJson, readManifest, readNodes, type RawModel } from './model-json.js';
import { TfjsImporter } from './ops.js';

export { TFJS_UNSUPPORTED_PREFIX, unsupportedTfjsOps };


/**
 * Imports a TF.js graph model from the text of its `model.json`, fetching each
 * weight shard through `readShard` (given the manifest's path, URI-decoded):
 * the file system in Node (read-file.ts), same-origin URLs or dropped files in
 * a page. `source` names the model in errors.
 */
export async function importTfjsText(text: string, readShard: (shardPath: string) => Promise<Uint8Array>, source = 'model.json'): Promise<Graph> {
  const json = parseJson(text, source);
  const manifest = readManifest(json, source);
  const shards: Uint8Array[] = [];
  const shardNames: string[] = [];
  for (const group of manifest) {
    for (const p of group.paths) {
      try {
        shards.push(await readShard(decodeURIComponent(p)));
      } catch (err) {
        throw new CloudlessError('E_FORMAT', `${source}: weight shard ${p} cannot be read (${(err as Error).message})`, {
          file: source, cause: err, hint: 'a TF.js graph model needs every .bin file of its weightsManifest next to model.json',
        });
      }
      shardNames.push(p);
    }
  }
  const total = shards.reduce((n, s) => n + s.length, 0);
  const data = new Uint8Array(total);
  let off = 0;
  for (const s of shards) { data.set(s, off); off += s.length; }
  return importTfjsFromParts(json, data, source, shardNames);
}

/**
 * Imports a parsed `model.json` with its weight shards already concatenated in manifest order.
 * `source` names the model in errors; `shardNames` (optional) name the shards when sizes do not fit.
 */
export function importTfjsFromParts(modelJson: unknown, weightData: Uint8Array, source = 'model.json', shardNames?: string[]): Graph {
  const nodes = readNodes(modelJson, source);
  const manifest = readManifest(modelJson, source);
  const weights = decodeWeights(manifest, weightData, source, shardNames);
  const importer = new TfjsImporter(modelJson as RawModel, nodes, weights, source);
  const graph = importer.run();
  checkGraphInputDims(graph, source);
  return graph;
}
