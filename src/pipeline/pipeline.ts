/**
 * A running pipeline: source → bounded queue → task → rules → ledger → sinks.
 *
 *   const p = await Pipeline.create(await loadPipelineFile('pipeline.yaml'), { dataDir, baseDir });
 *   p.on('event', (e) => console.log(e.rule, e.label));
 *   await p.start();
 *   ...
 *   await p.stop();   // drains, zeroes buffers, closes the ledger
 *
 * The inference loop takes one frame at a time, runs the task, zeroes the
 * frame (and lets the source delete its file), evaluates the rules and writes
 * each event to the ledger with one pending delivery per sink. Delivery
 * workers send from the ledger on their own schedule, so an unreachable sink
 * never slows inference and a crash never loses an event.
 */
import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { CloudlessError } from '../ir/index.js';
import type { BackendChoice } from '../runtime/session.js';
import { createSink, type Sink } from './actions.js';
import { validatePipeline, type PipelineConfig, type PipelineInput, type SourceConfig } from './config.js';
import { DeliveryWorker } from './delivery.js';
import { EgressPolicy } from './egress.js';
import { DeadlineWatchdog, FailSafe } from './failsafe.js';
import { Ledger } from './ledger.js';
import { PipelineLog } from './log.js';
import { STATUS_INTERVAL_MS, StatusWriter } from './status.js';
import { type PipelineControl, readControl } from './control.js';
import { dataPaths } from './paths.js';
import { safeText, zeroFrame } from './privacy.js';
import { FrameQueue } from './queue.js';
import { RuleSet } from './rules.js';
import { TrackingRules } from './tracking.js';
import { SecretStore } from './secrets.js';
import { FolderSource } from './sources/folder.js';
import { LinesSource, MqttSource } from './sources/lines.js';
import { AudioSource, VideoSource } from './sources/process.js';
import type { Source } from './sources/source.js';
import { createTask } from './task.js';
import type { Frame, PipelineEvent, Task, TaskResult } from './types.js';

export interface PipelineOptions {
  /** The device data directory (ledger, secrets, logs). */
  dataDir: string;
  /** Folder that relative paths in the config are resolved against (default: the working directory). */
  baseDir?: string;
  /** A task object to use instead of the config's task (TypeScript pipelines). */
  task?: Task;
  /** A source to use instead of the config's. */
  source?: Source;
  /** Sinks to use instead of building them from the config's actions (by action name). */
  sinks?: Record<string, Sink>;
  /** Sinks that receive every event the pipeline records, rule and state alike (the fleet's events topic). */
  everyEventSinks?: Sink[];
  backend?: BackendChoice;
  /** Threads for the wasm kernels (the session option; default 1). */
  threads?: number;
  /** Stream for stdin sources and wav-on-stdin (default process.stdin). */
  stdin?: Readable;
  /** Stop after this many frames were decided. */
  maxFrames?: number;
  /** Echo log lines here as well as to the log file. */
  echo?: (line: string) => void;
  /** How long stop() keeps processing queued frames, and waits for pending deliveries (ms). */
  drainMs?: number;
  flushMs?: number;
}

export interface PipelineStats {
  framesIn: number;
  framesDecided: number;
  framesDropped: number;
  badFrames: number;
  modelErrors: number;
  events: number;
  delivered: number;
  pending: number;
  missedDeadlines: number;
  state: 'normal' | 'safe';
  causes: string[];
  /** Mean time per decided frame (task run, including decode and preprocess). */
  meanTaskMs: number;
  /** Paused by its owner (pause(), or the dashboard through control/<name>.json): frames are thrown away undecided. */
  paused: boolean;
  /** Frames thrown away undecided while paused. */
  framesPaused: number;
}

/** Errors that are about one bad frame (a corrupt picture, a non-numeric reading), not about the model. */
const FRAME_ERRORS = new Set(['E_IMAGE', 'E_AUDIO', 'E_INPUT']);

export class Pipeline extends EventEmitter {
  readonly config: PipelineConfig;
  readonly ledger: Ledger;
  readonly log: PipelineLog;
  readonly failsafe: FailSafe;
  private readonly queue: FrameQueue;
  private readonly rules: RuleSet;
  private readonly tracking?: TrackingRules;
  private readonly watchdog: DeadlineWatchdog;
  private readonly workers = new Map<string, DeliveryWorker>();
  private loopDone?: Promise<void>;
  private current: Task;
  /** The frame being decided, so a task swap can wait for it. */
  private deciding?: Promise<void>;
  private readonly everyEvent: string[] = [];
  private stopping?: Promise<void>;
  private drainDeadline = Infinity;
  private decided = 0;
  private badFrames = 0;
  private modelErrors = 0;
  private events = 0;
  private taskMs = 0;
  private paused = false;
  private framesPaused = 0;
  private controlTimer?: ReturnType<typeof setInterval>;
  /** The control file's `paused` last applied (a change of the file is what acts, so pause() from code is not undone). */
  private controlPaused = false;
  private finished!: () => void;
  private finalStats?: PipelineStats;
  private status?: StatusWriter;
  /** Resolves when the source has ended and every frame was decided, or maxFrames was reached. */
  readonly done: Promise<void>;

  private constructor(config: PipelineConfig, task: Task, readonly source: Source, sinks: Map<string, Sink>, private readonly opts: PipelineOptions) {
    super();
    this.config = config;
    this.current = task;
    const paths = dataPaths(opts.dataDir);
    this.log = new PipelineLog(path.join(paths.logs, `${config.name}.log`), opts.echo);
    this.ledger = new Ledger(paths.ledger);
    this.queue = new FrameQueue(config.queue);
    this.rules = new RuleSet(config.rules, config.name);
    this.tracking = config.tracking ? new TrackingRules(config.tracking, config.name) : undefined;
    this.done = new Promise((r) => { this.finished = r; });
    this.failsafe = new FailSafe({
      pipeline: config.name,
      description: config.safe_state.description,
      command: config.safe_state.command,
      recoverCommand: config.safe_state.recover_command,
      record: (e) => this.record(e, config.safe_state.notify),
      log: this.log,
    });
    this.watchdog = new DeadlineWatchdog(config.deadline_ms, config.safe_state.max_missed_deadlines, this.failsafe);
    for (const sink of opts.everyEventSinks ?? []) {
      if (sinks.has(sink.name)) throw new CloudlessError('E_CONFIG', `pipeline ${config.name}: a sink named "${sink.name}" exists already`);
      sinks.set(sink.name, sink);
      this.everyEvent.push(sink.name);
    }
    for (const [name, sink] of sinks) {
      const a = config.actions[name];
      this.workers.set(name, new DeliveryWorker(this.ledger, sink, a?.backoff ?? { initial_ms: 500, max_ms: 60_000 }, this.log));
      // An unreachable fleet broker is reported by the fleet itself; it is no fault of the device.
      if (this.everyEvent.includes(name)) continue;
      // A sink going down while we stop is our own doing (its connection closing), not a fault.
      sink.status?.on('down', (why: string) => { if (!this.stopping) this.failsafe.raise('sink', name, why); });
      sink.status?.on('up', () => this.failsafe.clear('sink', name));
    }
  }

  /** Validates the config, opens secrets, loads the model and builds source and sinks. Nothing runs until start(). */
  static async create(input: PipelineConfig | PipelineInput, opts: PipelineOptions): Promise<Pipeline> {
    const config = validatePipeline(input);
    const baseDir = opts.baseDir ?? process.cwd();
    const secrets = new SecretStore(opts.dataDir);
    const sinks = new Map<string, Sink>();
    try {
      const egress = new EgressPolicy(config.allow);
      for (const [name, a] of Object.entries(config.actions)) sinks.set(name, opts.sinks?.[name] ?? createSink(name, a, secrets, egress));
      const hopMs = config.source.type === 'audio' ? config.source.hop_ms : undefined;
      const task = opts.task ?? await createTask(config.task, { baseDir, backend: opts.backend, threads: opts.threads, hopMs });
      const source = opts.source ?? createSource(config.source, baseDir, secrets, opts.stdin, config.allow);
      return new Pipeline(config, task, source, sinks, opts);
    } catch (err) {
      await Promise.all([...sinks.values()].map((s) => s.close()));
      throw err;
    }
  }

  /** Starts delivery workers, the inference loop and the source. */
  async start(): Promise<void> {
    if (this.loopDone) throw new CloudlessError('E_CONFIG', `pipeline ${this.config.name} is already running`);
    this.prune();
    this.log.info('pipeline started', { pipeline: this.config.name, source: this.source.name, task: this.task.name, pending: this.ledger.pendingCount() });
    const model = (this.config.task as { model?: unknown }).model;
    this.status = new StatusWriter(this.opts.dataDir, {
      pipeline: this.config.name, source: this.source.name, task: this.task.name, model: typeof model === 'string' ? model : undefined,
    }, () => this.stats());
    this.status.start();
    this.followControl();
    this.controlTimer = setInterval(() => this.followControl(), STATUS_INTERVAL_MS);
    this.controlTimer.unref();
    for (const w of this.workers.values()) w.start();
    this.loopDone = this.loop();
    await this.source.start({
      queue: this.queue,
      fault: (reason) => { if (!this.stopping) this.failsafe.raise('source', this.source.name, reason); },
      healthy: () => this.failsafe.clear('source', this.source.name),
      end: () => { this.log.info('source ended', { source: this.source.name }); this.queue.close(); },
      log: this.log,
    });
  }

  private async loop(): Promise<void> {
    for (;;) {
      const frame = await this.queue.take();
      if (!frame) break;
      if (Date.now() > this.drainDeadline) { zeroFrame(frame); await frame.release?.().catch(() => undefined); continue; }
      if (this.paused) { this.framesPaused++; zeroFrame(frame); await frame.release?.().catch(() => undefined); continue; }
      this.deciding = this.decide(frame);
      await this.deciding;
      this.deciding = undefined;
      if (this.opts.maxFrames !== undefined && this.decided >= this.opts.maxFrames) { this.queue.close(); await this.queue.clear(); break; }
    }
    this.finished();
  }

  private async decide(frame: Frame): Promise<void> {
    const t0 = performance.now();
    const time = frame.time;
    const task = this.current;
    let result: TaskResult | undefined;
    try {
      if (!task.accepts.includes(frame.kind)) {
        throw new CloudlessError('E_CONFIG', `task ${task.name} does not take ${frame.kind} frames (source ${frame.source})`);
      }
      result = await task.run(frame);
      this.failsafe.clear('model', task.name);
    } catch (err) {
      const code = err instanceof CloudlessError ? err.code : 'E_INTERNAL';
      if (FRAME_ERRORS.has(code)) {
        this.badFrames++;
        this.log.warn('frame skipped', { frame: frame.seq, source: frame.source, error: safeText(err) });
      } else {
        this.modelErrors++;
        this.log.error('task failed', { frame: frame.seq, task: task.name, error: safeText(err) });
        this.failsafe.raise('model', task.name, safeText(err));
      }
    } finally {
      zeroFrame(frame);
      await frame.release?.().catch(() => undefined);
    }
    const ms = performance.now() - t0;
    this.taskMs += ms;
    this.decided++;
    this.watchdog.observe(ms);
    if (!result) return;
    for (const { rule, event } of this.rules.evaluate(result, time)) this.record(event, rule.config.actions);
    for (const { event, actions } of this.tracking?.evaluate(result, time) ?? []) this.record(event, actions);
  }

  /** The task deciding frames now. */
  get task(): Task { return this.current; }

  /**
   * Replaces the task between two frames: the frame being decided finishes on
   * the old task, the next one runs on `next`. Returns the old task, which the
   * caller closes (or keeps to swap back).
   */
  async swapTask(next: Task): Promise<Task> {
    const prev = this.current;
    this.current = next;
    await this.deciding;
    // The old task no longer runs: a model fault it raised cannot clear by itself.
    if (prev.name !== next.name) this.failsafe.clear('model', prev.name);
    this.log.info('task swapped', { from: prev.name, to: next.name });
    return prev;
  }

  /** Records an event from outside the inference loop (the fleet's rollout steps) with every-event sinks as targets. */
  recordEvent(event: PipelineEvent): void { this.record(event, []); }

  /** Writes an event to the ledger with a pending delivery for each named sink, and wakes their workers. */
  private record(event: PipelineEvent, actions: readonly string[]): void {
    const targets = [...new Set([...actions, ...this.everyEvent])].map((a) => this.workers.get(a)!).filter(Boolean);
    this.ledger.record(event, targets.map((w) => ({ name: w.sink.name, destination: w.sink.destination })));
    this.events++;
    for (const w of targets) w.notify();
    if (this.events % 200 === 0) this.prune();
    this.emit('event', event);
  }

  private prune(): void {
    const n = this.ledger.prune({ maxAgeDays: this.config.ledger.max_age_days, maxEvents: this.config.ledger.max_events });
    if (n) this.log.info('ledger retention', { removed: n });
  }

  stats(): PipelineStats {
    if (this.finalStats) return this.finalStats;
    return {
      framesIn: this.queue.accepted + this.queue.refused,
      framesDecided: this.decided,
      framesDropped: this.queue.dropped,
      badFrames: this.badFrames,
      modelErrors: this.modelErrors,
      events: this.events,
      delivered: [...this.workers.values()].reduce((s, w) => s + w.delivered, 0),
      pending: this.ledger.pendingCount(),
      missedDeadlines: this.watchdog.missedTotal,
      state: this.failsafe.state,
      causes: this.failsafe.causes,
      meanTaskMs: this.decided ? this.taskMs / this.decided : 0,
      paused: this.paused,
      framesPaused: this.framesPaused,
    };
  }

  /** Whether frames are being thrown away undecided (see pause()). */
  get isPaused(): boolean { return this.paused; }

  /**
   * Stops deciding frames until resume(): the source and sinks stay open, each frame is
   * thrown away unseen and counted (`framesPaused`), no rule fires, pending deliveries go on.
   * A deliberate pause is not a fault: no safe state is entered.
   */
  pause(by = 'library'): void {
    if (this.paused) return;
    this.paused = true;
    this.log.info('pipeline paused', { pipeline: this.config.name, by });
  }

  resume(by = 'library'): void {
    if (!this.paused) return;
    this.paused = false;
    this.log.info('pipeline resumed', { pipeline: this.config.name, by, framesPaused: this.framesPaused });
  }

  /** Applies control/<name>.json (written by the dashboard); a broken file is logged and leaves the state as it is. */
  private followControl(): void {
    let c: PipelineControl | undefined;
    try {
      c = readControl(this.opts.dataDir, this.config.name);
    } catch (err) {
      this.log.warn('control file ignored', { error: safeText(err) });
      return;
    }
    const want = c?.paused ?? false;
    if (want === this.controlPaused) return;
    this.controlPaused = want;
    if (want) this.pause(c?.by ?? 'control file');
    else this.resume(c?.by ?? 'control file');
  }

  /** Waits until no delivery is pending (or the timeout passes); returns how many still are. */
  async flush(timeoutMs: number): Promise<number> {
    const left = await Promise.all([...this.workers.values()].map((w) => w.drain(timeoutMs)));
    return left.reduce((s, n) => s + n, 0);
  }

  /**
   * Stops cleanly: the source stops, queued frames are decided for up to drainMs
   * (the rest are zeroed unseen), deliveries get flushMs to finish, then sinks,
   * task and ledger close. A deliberate stop is not a failure: connections
   * closing on the way are not faults, the safe-state command does not run,
   * and a local 'stopped' state event is recorded (for no sink: there is
   * nobody left to send it to). The log's and the summary's pending counts
   * are the same number, read once the workers have stopped. Safe to call
   * more than once.
   */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      await this.source.stop();
      this.drainDeadline = Date.now() + (this.opts.drainMs ?? 5000);
      this.queue.close();
      await this.loopDone;
      await this.flush(this.opts.flushMs ?? 2000);
      for (const w of this.workers.values()) await w.stop();
      for (const w of this.workers.values()) await w.sink.close();
      await this.task.close?.();
      await this.failsafe.settled();
      this.ledger.record({
        id: randomUUID(), pipeline: this.config.name, kind: 'state', rule: 'stop', time: new Date().toISOString(), state: 'stopped', causes: [],
      }, []);
      const s = this.stats();
      this.log.info('pipeline stopped', { decided: s.framesDecided, dropped: s.framesDropped, events: s.events, pending: s.pending });
      this.finalStats = s;
      clearInterval(this.controlTimer);
      this.status?.stop();
      this.ledger.close();
      await this.log.close();
    })();
    return this.stopping;
  }
}

/** Builds the source a config describes; paths are relative to `baseDir`. */
export function createSource(cfg: SourceConfig, baseDir: string, secrets: SecretStore, stdin?: Readable, allow: readonly string[] = []): Source {
  switch (cfg.type) {
    case 'folder': return new FolderSource(cfg, path.resolve(baseDir, cfg.path));
    case 'video': return new VideoSource(cfg, cfg.input.startsWith('/dev/') ? cfg.input : path.resolve(baseDir, cfg.input));
    case 'audio': return new AudioSource(cfg, cfg.input === 'arecord' || cfg.input === '-' ? cfg.input : path.resolve(baseDir, cfg.input), stdin);
    case 'mqtt': return new MqttSource(cfg, new EgressPolicy(allow), cfg.password_secret ? secrets.get(cfg.password_secret) : undefined);
    case 'stdin': return new LinesSource(stdin);
  }
}
