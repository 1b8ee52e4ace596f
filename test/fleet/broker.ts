/**
 * A real mosquitto for fleet tests: TLS with a CA and server certificate made
 * by openssl at test time (never committed), a password per device, and an
 * ACL file where each device may write only under <prefix>/<its user name>/
 * (`pattern write <prefix>/%u/#`), with the fleet store allowed to write
 * acknowledgements on `<prefix>/+/events/ack` and each device to read its own.
 * Persistence is on; `saveEveryChange` saves after every change (a SIGKILL
 * then keeps nearly every session and queued message), otherwise mosquitto's
 * default autosave (every 30 min) applies and a SIGKILL forgets what came since
 * the start: sessions, subscriptions, retained and queued messages.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { freePort, hasMosquitto } from '../pipeline/mosquitto.js';

export { freePort, hasMosquitto };
export const hasOpenssl = (): boolean => { try { execFileSync('openssl', ['version']); return true; } catch { return false; } };

const sh = (cmd: string, args: string[], cwd: string) => execFileSync(cmd, args, { cwd, stdio: 'pipe' });

export class TlsBroker {
  private proc?: ChildProcess;
  readonly dir = mkdtempSync(path.join(os.tmpdir(), 'cloudless-fleet-broker-'));
  readonly caFile: string;
  readonly passwords = new Map<string, string>();

  constructor(readonly port: number, readonly prefix: string, users: string[], readonly fleetUser = 'fleet', saveEveryChange = true) {
    const d = this.dir;
    sh('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '2', '-subj', '/CN=cloudless test CA'], d);
    sh('openssl', ['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=127.0.0.1'], d);
    writeFileSync(path.join(d, 'san.ext'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\n');
    sh('openssl', ['x509', '-req', '-in', 'server.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'server.pem', '-days', '2', '-extfile', 'san.ext'], d);
    this.caFile = path.join(d, 'ca.pem');
    writeFileSync(path.join(d, 'passwd'), '');
    for (const u of [fleetUser, 'spy', ...users]) {
      const pw = `pw-${u}-${Math.random().toString(36).slice(2)}`;
      this.passwords.set(u, pw);
      sh('mosquitto_passwd', ['-b', 'passwd', u, pw], d);
    }
    const p = prefix;
    writeFileSync(path.join(d, 'acl'), [
      `user ${fleetUser}`, `topic read ${p}/#`, `topic write ${p}/rollout/#`, `topic write ${p}/+/events/ack`, '',
      'user spy', 'topic read #', '',
      `pattern write ${p}/%u/#`, `pattern read ${p}/%u/status`, `pattern read ${p}/%u/events/ack`, `pattern read ${p}/rollout/#`,
      'pattern read homeassistant/status', 'pattern write homeassistant/device/#', '',
    ].join('\n'));
    writeFileSync(path.join(d, 'mosquitto.conf'), [
      `listener ${port} 127.0.0.1`, `cafile ${d}/ca.pem`, `certfile ${d}/server.pem`, `keyfile ${d}/server.key`,
      'allow_anonymous false', `password_file ${d}/passwd`, `acl_file ${d}/acl`,
      'persistence true', `persistence_location ${d}/`, ...(saveEveryChange ? ['autosave_interval 1', 'autosave_on_changes true'] : []),
      'max_keepalive 65535', 'log_dest none',
      // As root, mosquitto would switch to its own user, which cannot read this private folder.
      ...(process.getuid?.() === 0 ? ['user root'] : []), '',
    ].join('\n'));
  }

  get url(): string { return `mqtts://127.0.0.1:${this.port}`; }

  async start(): Promise<void> {
    this.proc = spawn('/usr/sbin/mosquitto', ['-c', path.join(this.dir, 'mosquitto.conf')], { stdio: 'ignore' });
    const end = Date.now() + 5000;
    while (Date.now() < end) {
      const ok = await new Promise<boolean>((r) => { const c = net.connect(this.port, '127.0.0.1', () => { c.destroy(); r(true); }); c.on('error', () => r(false)); });
      if (ok) return;
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(`mosquitto did not listen on ${this.port}`);
  }

  async kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const p = this.proc;
    if (!p || p.exitCode !== null || p.signalCode !== null) return;
    const closed = new Promise((r) => p.once('close', r));
    p.kill(signal);
    await closed;
  }

  async dispose(): Promise<void> {
    await this.kill('SIGTERM');
    rmSync(this.dir, { recursive: true, force: true });
  }
}
