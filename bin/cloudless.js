#!/usr/bin/env node
import { main } from '../dist/cli/main.js';

// A reader that stops early (`cloudless models list | head -1`) closes the pipe: that ends the output, quietly.
const quietOnEpipe = (err) => {
  if (err && err.code === 'EPIPE') process.exit(Number(process.exitCode ?? 0));
  throw err;
};
process.stdout.on('error', quietOnEpipe);
process.stderr.on('error', quietOnEpipe);

main(process.argv).then((code) => { process.exitCode = Math.max(Number(process.exitCode ?? 0), code); });
