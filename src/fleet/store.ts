/**
 * The fleet store: a local SQLite file holding every device's last status,
 * health and model state, and every event from every device, de-duplicated by
 * (device, event id). Devices deliver at least once (an event whose
 * acknowledgement on events/ack was lost is sent again with its id); the
 * primary key makes the store exactly once.
 *
 * Status follows the boot counter: an `offline` carrying a boot older than the
 * one the store holds is a late will of a previous session and is ignored.
 */
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { CloudlessError } from '../ir/index.js';
import { safeText } from '../pipeline/privacy.js';
import type { PipelineEvent } from '../pipeline/types.js';
import type { HealthMessage, ModelStateMessage, StatusMessage } from './messages.js';

export interface DeviceRow {
  device: string;
  state: 'online' | 'offline' | 'unknown';
  boot: number;
  lastSeen?: string;
  health?: HealthMessage;
  model?: ModelStateMessage;
  events: number;
}

export interface StoredEvent { device: string; id: string; received: string; event: PipelineEvent }

export class FleetStore {
  private readonly db: Database.Database;
  private readonly st: Record<string, Database.Statement>;
  private closed = false;

  constructor(readonly file: string) {
    if (file !== ':memory:') mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
    try { this.db = new Database(file); } catch (err) {
      throw new CloudlessError('E_FILE', `cannot open fleet store ${file}: ${safeText(err)}`, { file });
    }
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = NORMAL');
    this.db.exec(`
      CREATE TABLE IF NOT EXISTS devices (
        device TEXT PRIMARY KEY,
        state TEXT NOT NULL DEFAULT 'unknown',
        boot INTEGER NOT NULL DEFAULT -1,
        last_seen INTEGER,
        health TEXT,
        model TEXT);
      CREATE TABLE IF NOT EXISTS events (
        device TEXT NOT NULL,
        id TEXT NOT NULL,
        received INTEGER NOT NULL,
        time INTEGER NOT NULL,
        rule TEXT NOT NULL,
        body TEXT NOT NULL,
        PRIMARY KEY (device, id)) WITHOUT ROWID;
      CREATE INDEX IF NOT EXISTS events_received ON events (received);
    `);
    this.st = {
      ensure: this.db.prepare('INSERT INTO devices (device) VALUES (?) ON CONFLICT (device) DO NOTHING'),
      get: this.db.prepare('SELECT * FROM devices WHERE device = ?'),
      status: this.db.prepare('UPDATE devices SET state = ?, boot = ?, last_seen = ? WHERE device = ?'),
      seen: this.db.prepare('UPDATE devices SET last_seen = ? WHERE device = ?'),
      health: this.db.prepare('UPDATE devices SET health = ?, last_seen = ? WHERE device = ?'),
      model: this.db.prepare('UPDATE devices SET model = ?, last_seen = ? WHERE device = ?'),
      event: this.db.prepare('INSERT INTO events (device, id, received, time, rule, body) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING'),
    };
  }

  private ensure(device: string): void { this.st.ensure!.run(device); }

  /** Applies a status message; returns false when it was a stale will (older boot) and was ignored. */
  status(device: string, s: StatusMessage, now = Date.now()): boolean {
    return this.db.transaction(() => {
      this.ensure(device);
      const cur = this.st.get!.get(device) as { boot: number };
      if (s.boot < cur.boot) return false;
      this.st.status!.run(s.state, s.boot, now, device);
      return true;
    })();
  }

  health(device: string, h: HealthMessage, now = Date.now()): void {
    this.ensure(device);
    this.st.health!.run(JSON.stringify(h), now, device);
  }

  modelState(device: string, m: ModelStateMessage, now = Date.now()): void {
    this.ensure(device);
    this.st.model!.run(JSON.stringify(m), now, device);
  }

  /** Stores an event; returns false for a repeat of one already stored. */
  event(device: string, e: PipelineEvent, now = Date.now()): boolean {
    return this.db.transaction(() => {
      this.ensure(device);
      this.st.seen!.run(now, device);
      return this.st.event!.run(device, e.id, now, Date.parse(e.time) || now, e.rule, JSON.stringify(e)).changes === 1;
    })();
  }

  /** Several events in one transaction (what a busy store does with a burst); returns how many were new. */
  events(batch: readonly { device: string; event: PipelineEvent }[], now = Date.now()): number {
    return this.db.transaction(() => {
      let n = 0;
      for (const { device, event } of batch) {
        this.ensure(device);
        n += this.st.event!.run(device, event.id, now, Date.parse(event.time) || now, event.rule, JSON.stringify(event)).changes;
      }
      return n;
    })();
  }

  devices(): DeviceRow[] {
    const rows = this.db.prepare(`SELECT d.*, (SELECT COUNT(*) FROM events e WHERE e.device = d.device) AS n FROM devices d ORDER BY d.device`).all() as
      { device: string; state: DeviceRow['state']; boot: number; last_seen: number | null; health: string | null; model: string | null; n: number }[];
    return rows.map((r) => ({
      device: r.device, state: r.state, boot: r.boot, events: r.n,
      ...(r.last_seen ? { lastSeen: new Date(r.last_seen).toISOString() } : {}),
      ...(r.health ? { health: JSON.parse(r.health) as HealthMessage } : {}),
      ...(r.model ? { model: JSON.parse(r.model) as ModelStateMessage } : {}),
    }));
  }

  /** Events per device received since `since` (ms epoch), for rates. */
  countsSince(since: number): Map<string, number> {
    const rows = this.db.prepare('SELECT device, COUNT(*) AS n FROM events WHERE received >= ? GROUP BY device').all(since) as { device: string; n: number }[];
    return new Map(rows.map((r) => [r.device, r.n]));
  }

  list(opts: { device?: string; limit?: number } = {}): StoredEvent[] {
    const rows = this.db.prepare(`SELECT device, id, received, body FROM events ${opts.device ? 'WHERE device = ?' : ''} ORDER BY received DESC, time DESC ${opts.limit ? 'LIMIT ?' : ''}`)
      .all(...[opts.device, opts.limit].filter((x) => x !== undefined)) as { device: string; id: string; received: number; body: string }[];
    return rows.map((r) => ({ device: r.device, id: r.id, received: new Date(r.received).toISOString(), event: JSON.parse(r.body) as PipelineEvent }));
  }

  /** Event ids stored for a device. */
  ids(device: string): string[] {
    return (this.db.prepare('SELECT id FROM events WHERE device = ?').all(device) as { id: string }[]).map((r) => r.id);
  }

  count(): number { return (this.db.prepare('SELECT COUNT(*) AS n FROM events').get() as { n: number }).n; }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.db.close();
  }
}
