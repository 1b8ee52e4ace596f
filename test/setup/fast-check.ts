import fc from 'fast-check';

/**
 * Property tests run from a fixed seed so that CI is deterministic; set FC_SEED to
 * another number (or to `random`) to explore new cases locally. A failing run
 * prints its seed and path for replay.
 */
const env = process.env.FC_SEED;
if (env !== 'random') fc.configureGlobal({ seed: env ? Number(env) : 20261125 });
