/**
 * The local ledger: every event a pipeline produced, and for each sink whether
 * it was delivered. It is the outbox of the delivery workers (an event is
 * written here before any sink sees it, so a crash or an outage cannot lose
 * it) and the record `cloudless events` and `cloudless audit` read.
 *
 * Exactly-once bookkeeping: a delivery row goes from 'pending' to 'delivered'
 * in one UPDATE guarded by `status = 'pending'`, and the per-destination totals
 * are bumped in the same transaction only when that UPDATE changed a row, so
 * an event is counted as sent once however often a worker retries it.
 *
 * Retention removes events older than max age, then the oldest beyond max
 * count, but never an event with a pending delivery: pending means "not yet
 * delivered", and losing it would break the promise that nothing is lost.
 */
import path from 'node:path';
import Database from 'better-sqlite3';
import { CloudlessError } from '../ir/index.js';
import { ensurePrivateDir, ensurePrivateFile } from './paths.js';
import { safeText, toEventJson } from './privacy.js';
import type { PipelineEvent } from './types.js';

export interface LedgerRow {
  id: string;
  time: string;
  pipeline: string;
  kind: string;
  rule: string;
  event: PipelineEvent;
  deliveries: { sink: string; status: 'pending' | 'delivered'; attempts: number; deliveredAt?: string; lastError?: string }[];
}

interface StoredEvent { id: string; time: number; pipeline: string; kind: string; rule: string; body: string }

export interface SinkTotal { sink: string; destination: string; events: number; bytes: number; pending: number }

export interface Retention { maxAgeDays: number; maxEvents: number }

export class Ledger {
  private readonly db: Database.Database;
  private readonly st: Record<string, Database.Statement>;
  private closed = false;

  constructor(readonly file: string) {
    try {
      if (file !== ':memory:') {
        // The data directory is 0700 and the ledger 0600 (SQLite gives its -wal and -shm files the database file's mode).
        ensurePrivateDir(path.dirname(file));
        ensurePrivateFile(file);
      }
      this.db = new Database(file);
    } catch (err) {
      throw new CloudlessError('E_FILE', `cannot open ledger ${file}: ${safeText(err)}`, { file });
    }
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('foreign_keys = ON');
    this.db.exec(`
      CREATE TABLE IF NOT EXISTS events (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        id TEXT NOT NULL UNIQUE,
        time INTEGER NOT NULL,
        pipeline TEXT NOT NULL,
        kind TEXT NOT NULL,
        rule TEXT NOT NULL,
        body TEXT NOT NULL);
      CREATE TABLE IF NOT EXISTS deliveries (
        event_id TEXT NOT NULL REFERENCES events(id) ON DELETE CASCADE,
        sink TEXT NOT NULL,
        destination TEXT NOT NULL,
        status TEXT NOT NULL CHECK (status IN ('pending', 'delivered')),
        attempts INTEGER NOT NULL DEFAULT 0,
        next_at INTEGER NOT NULL DEFAULT 0, -- when the worker retries (informational: it retries in order)
        last_error TEXT,
        delivered_at INTEGER,
        PRIMARY KEY (event_id, sink));
      CREATE INDEX IF NOT EXISTS deliveries_pending ON deliveries (sink, status);
      CREATE TABLE IF NOT EXISTS sent (
        sink TEXT NOT NULL,
        destination TEXT NOT NULL,
        events INTEGER NOT NULL,
        bytes INTEGER NOT NULL,
        PRIMARY KEY (sink, destination));
    `);
    this.st = {
      insertEvent: this.db.prepare('INSERT INTO events (id, time, pipeline, kind, rule, body) VALUES (?, ?, ?, ?, ?, ?)'),
      insertDelivery: this.db.prepare("INSERT INTO deliveries (event_id, sink, destination, status) VALUES (?, ?, ?, 'pending')"),
      due: this.db.prepare(`SELECT e.body AS body FROM deliveries d JOIN events e ON e.id = d.event_id
        WHERE d.sink = ? AND d.status = 'pending' ORDER BY e.seq LIMIT ?`),
      pendingOf: this.db.prepare("SELECT COUNT(*) AS n FROM deliveries WHERE sink = ? AND status = 'pending'"),
      delivered: this.db.prepare("UPDATE deliveries SET status = 'delivered', delivered_at = ?, attempts = attempts + 1, last_error = NULL WHERE event_id = ? AND sink = ? AND status = 'pending'"),
      bumpSent: this.db.prepare(`INSERT INTO sent (sink, destination, events, bytes) VALUES (?, ?, 1, ?)
        ON CONFLICT (sink, destination) DO UPDATE SET events = events + 1, bytes = bytes + excluded.bytes`),
      failed: this.db.prepare("UPDATE deliveries SET attempts = attempts + 1, next_at = ?, last_error = ? WHERE event_id = ? AND sink = ? AND status = 'pending'"),
      attempts: this.db.prepare('SELECT attempts FROM deliveries WHERE event_id = ? AND sink = ?'),
      pendingCount: this.db.prepare("SELECT COUNT(*) AS n FROM deliveries WHERE status = 'pending'"),
      count: this.db.prepare('SELECT COUNT(*) AS n FROM events'),
    };
  }

  /** Records an event and a pending delivery per sink, atomically. */
  record(event: PipelineEvent, sinks: readonly { name: string; destination: string }[]): void {
    const body = toEventJson(event);
    this.db.transaction(() => {
      this.st.insertEvent!.run(event.id, Date.parse(event.time), event.pipeline, event.kind, event.rule, body);
      for (const s of sinks) this.st.insertDelivery!.run(event.id, s.name, s.destination);
    })();
  }

  /** A sink's pending events, oldest first, as the JSON the sink sends. */
  due(sink: string, limit = 32): string[] {
    return (this.st.due!.all(sink, limit) as { body: string }[]).map((r) => r.body);
  }

  /** How many events a sink (or, without a name, every sink) still has to deliver. */
  pendingCount(sink?: string): number {
    return ((sink === undefined ? this.st.pendingCount!.get() : this.st.pendingOf!.get(sink)) as { n: number }).n;
  }

  /** Marks one delivery done; returns false if it was already marked (the totals are then left alone). */
  markDelivered(eventId: string, sink: string, destination: string, bytes: number): boolean {
    return this.db.transaction(() => {
      const changed = this.st.delivered!.run(Date.now(), eventId, sink).changes === 1;
      if (changed) this.st.bumpSent!.run(sink, destination, bytes);
      return changed;
    })();
  }

  /** Records a failed attempt and when to retry; returns the number of attempts so far. */
  markFailed(eventId: string, sink: string, error: unknown, nextAt: number): number {
    this.st.failed!.run(nextAt, safeText(error), eventId, sink);
    return (this.st.attempts!.get(eventId, sink) as { attempts: number } | undefined)?.attempts ?? 0;
  }

  count(): number { return (this.st.count!.get() as { n: number }).n; }

  /** Events, newest first (or oldest first with `ascending`), with their delivery state. */
  list(opts: { limit?: number; since?: number; pipeline?: string; ascending?: boolean } = {}): LedgerRow[] {
    const where: string[] = [];
    const args: (string | number)[] = [];
    if (opts.since !== undefined) { where.push('time >= ?'); args.push(opts.since); }
    if (opts.pipeline) { where.push('pipeline = ?'); args.push(opts.pipeline); }
    const sql = `SELECT id, time, pipeline, kind, rule, body FROM events ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
      ORDER BY seq ${opts.ascending ? 'ASC' : 'DESC'} ${opts.limit ? 'LIMIT ?' : ''}`;
    if (opts.limit) args.push(opts.limit);
    return this.withDeliveries(this.db.prepare(sql).all(...args) as StoredEvent[]);
  }

  private withDeliveries(rows: StoredEvent[]): LedgerRow[] {
    const del = this.db.prepare('SELECT sink, status, attempts, delivered_at, last_error FROM deliveries WHERE event_id = ? ORDER BY sink');
    return rows.map((r) => ({
      id: r.id, time: new Date(r.time).toISOString(), pipeline: r.pipeline, kind: r.kind, rule: r.rule,
      event: JSON.parse(r.body) as PipelineEvent,
      deliveries: (del.all(r.id) as { sink: string; status: 'pending' | 'delivered'; attempts: number; delivered_at: number | null; last_error: string | null }[])
        .map((d) => ({
          sink: d.sink, status: d.status, attempts: d.attempts,
          ...(d.delivered_at ? { deliveredAt: new Date(d.delivered_at).toISOString() } : {}),
          ...(d.last_error ? { lastError: d.last_error } : {}),
        })),
    }));
  }

  /**
   * Events matching a filter, newest first (oldest first with `afterSeq`, which
   * a live view uses to fetch what arrived since the last row it has). `label`
   * matches the event's label field; times are epoch ms.
   */
  search(f: { rule?: string; label?: string; pipeline?: string; since?: number; until?: number; afterSeq?: number; limit?: number } = {}): (LedgerRow & { seq: number })[] {
    const where: string[] = [];
    const args: (string | number)[] = [];
    if (f.rule) { where.push('rule = ?'); args.push(f.rule); }
    if (f.label) { where.push("json_extract(body, '$.label') = ?"); args.push(f.label); }
    if (f.pipeline) { where.push('pipeline = ?'); args.push(f.pipeline); }
    if (f.since !== undefined) { where.push('time >= ?'); args.push(f.since); }
    if (f.until !== undefined) { where.push('time <= ?'); args.push(f.until); }
    if (f.afterSeq !== undefined) { where.push('seq > ?'); args.push(f.afterSeq); }
    args.push(Math.min(Math.max(f.limit ?? 200, 1), 5000));
    const rows = this.db.prepare(`SELECT seq, id, time, pipeline, kind, rule, body FROM events ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
      ORDER BY seq ${f.afterSeq !== undefined ? 'ASC' : 'DESC'} LIMIT ?`).all(...args) as (StoredEvent & { seq: number })[];
    const rowsOut = this.withDeliveries(rows);
    return rowsOut.map((r, k) => ({ ...r, seq: rows[k]!.seq }));
  }

  /** The newest event's sequence number (0 when empty). */
  lastSeq(): number {
    return (this.db.prepare('SELECT COALESCE(MAX(seq), 0) AS n FROM events').get() as { n: number }).n;
  }

  /**
   * Deliveries per UTC day, sink and destination, with the bytes of the event
   * JSON each carried (what a sink sends is that JSON). Events whose rows the
   * retention removed are no longer counted here; totals() keeps them.
   */
  deliveredPerDay(): { day: string; sink: string; destination: string; events: number; bytes: number }[] {
    return this.db.prepare(`SELECT date(d.delivered_at / 1000, 'unixepoch') AS day, d.sink AS sink, d.destination AS destination,
        COUNT(*) AS events, SUM(length(CAST(e.body AS BLOB))) AS bytes
      FROM deliveries d JOIN events e ON e.id = d.event_id WHERE d.status = 'delivered'
      GROUP BY day, d.sink, d.destination ORDER BY day DESC, d.sink`).all() as { day: string; sink: string; destination: string; events: number; bytes: number }[];
  }

  /** Events per time bucket (epoch ms of the bucket's start), from `since`. */
  eventsOverTime(since: number, bucketMs: number): { t: number; events: number }[] {
    return this.db.prepare('SELECT time - (time % ?) AS t, COUNT(*) AS events FROM events WHERE time >= ? GROUP BY t ORDER BY t')
      .all(bucketMs, since) as { t: number; events: number }[];
  }

  /** What left the device, per sink and destination: events and bytes delivered, and what is still pending. */
  totals(): SinkTotal[] {
    const sent = this.db.prepare('SELECT sink, destination, events, bytes FROM sent').all() as { sink: string; destination: string; events: number; bytes: number }[];
    const pending = this.db.prepare("SELECT sink, destination, COUNT(*) AS n FROM deliveries WHERE status = 'pending' GROUP BY sink, destination").all() as { sink: string; destination: string; n: number }[];
    const map = new Map<string, SinkTotal>();
    for (const s of sent) map.set(`${s.sink}\0${s.destination}`, { ...s, pending: 0 });
    for (const p of pending) {
      const k = `${p.sink}\0${p.destination}`;
      const t = map.get(k) ?? { sink: p.sink, destination: p.destination, events: 0, bytes: 0, pending: 0 };
      t.pending = p.n;
      map.set(k, t);
    }
    return [...map.values()].sort((a, b) => a.sink.localeCompare(b.sink));
  }

  /** Event counts per pipeline, kind and rule. */
  counts(): { pipeline: string; kind: string; rule: string; events: number }[] {
    return this.db.prepare('SELECT pipeline, kind, rule, COUNT(*) AS events FROM events GROUP BY pipeline, kind, rule ORDER BY pipeline, rule')
      .all() as { pipeline: string; kind: string; rule: string; events: number }[];
  }

  /** Applies retention; returns how many events were removed. Events with pending deliveries are kept. */
  prune(r: Retention, now = Date.now()): number {
    const notPending = "NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.event_id = events.id AND d.status = 'pending')";
    return this.db.transaction(() => {
      let n = this.db.prepare(`DELETE FROM events WHERE time < ? AND ${notPending}`).run(now - r.maxAgeDays * 86_400_000).changes;
      const excess = this.count() - r.maxEvents;
      if (excess > 0) {
        n += this.db.prepare(`DELETE FROM events WHERE seq IN (SELECT seq FROM events WHERE ${notPending} ORDER BY seq LIMIT ?)`).run(excess).changes;
      }
      return n;
    })();
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.db.pragma('wal_checkpoint(TRUNCATE)');
    this.db.close();
  }
}
