/** The LiteRT.js oracle for tests lives in the product (src/bench/litert.ts), where the benchmark uses it too. */
export { LITERT_VERSION, loadLiteRtForNode, runLiteRt } from '../../src/bench/litert.js';
