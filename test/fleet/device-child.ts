/**
 * One simulated fleet device, run as its own process by the fleet tests:
 * a pipeline whose source makes a sensor frame every period_ms (a JSON reading
 * with a random 'raw' field standing in for sensor bytes that must never leave),
 * the sensor task, one rule that fires on every frame, and the fleet section.
 * Config comes as JSON in FLEET_CHILD (or, with FLEET_CHILD=stdin, as the first
 * line on stdin once the modules are loaded); it prints 'ready' and each raw payload
 * (hex, for the test's privacy scan) on stdout; SIGTERM stops it cleanly.
 */
import { randomBytes } from 'node:crypto';
import { validatePipeline } from '../../src/pipeline/config.js';
import { SecretStore } from '../../src/pipeline/secrets.js';
import type { Source, SourceContext } from '../../src/pipeline/sources/source.js';
import { startFleetPipeline } from '../../src/fleet/run.js';

interface ChildConfig { dataDir: string; broker: string; device: string; password: string; ca: string; prefix: string; periodMs: number; keepalive: number; ackTimeout: number }

/** The config: from FLEET_CHILD, or (FLEET_CHILD=stdin, a spare started ahead with its modules loaded) the first line on stdin. */
async function config(): Promise<ChildConfig> {
  if (process.env.FLEET_CHILD !== 'stdin') return JSON.parse(process.env.FLEET_CHILD!) as ChildConfig;
  process.stdout.write('loaded\n');
  let buf = '';
  for await (const chunk of process.stdin) {
    buf += String(chunk);
    const i = buf.indexOf('\n');
    if (i >= 0) return JSON.parse(buf.slice(0, i)) as ChildConfig;
  }
  throw new Error('no config on stdin');
}
const c = await config();

class TickSource implements Source {
  readonly name = 'ticks';
  private timer?: NodeJS.Timeout;
  private seq = 0;
  async start(ctx: SourceContext): Promise<void> {
    this.timer = setInterval(() => {
      const raw = randomBytes(24).toString('hex');
      process.stdout.write(`raw ${raw}\n`);
      const data = new Uint8Array(Buffer.from(JSON.stringify({ v: this.seq, raw })));
      void ctx.queue.put({ kind: 'sensor', seq: this.seq++, time: Date.now(), source: this.name, data });
    }, c.periodMs);
  }
  async stop(): Promise<void> { clearInterval(this.timer); }
}

new SecretStore(c.dataDir).set('broker', c.password);
const cfg = validatePipeline({
  name: 'ticks', source: { type: 'stdin' }, task: { type: 'sensor', field: 'v' },
  rules: [{ name: 'tick', value_above: -1 }], safe_state: { description: 'nothing to do' },
  allow: ['127.0.0.1'],
  fleet: { broker: c.broker, device_id: c.device, prefix: c.prefix, password_secret: 'broker', ca_file: c.ca, keepalive_s: c.keepalive, health_interval_s: 2, ack_timeout_s: c.ackTimeout },
});
// A clean stop waits up to 5 s for the fleet store's acknowledgements of what is still pending.
const fp = await startFleetPipeline(cfg, { dataDir: c.dataDir, source: new TickSource(), flushMs: 5000 });
await fp.pipeline.start();
process.stdout.write('ready\n');
process.once('SIGTERM', () => { void fp.stop().then(() => process.exit(0)); });
