/**
 * A pipeline with its fleet section switched on: the device's MQTT client, the
 * fleet event sink on every event, health, and the rollout agent that swaps
 * the task's model. After a rollout the device starts on the slot it accepted.
 */
import path from 'node:path';
import { CloudlessError } from '../ir/index.js';
import type { PipelineConfig, TaskConfig } from '../pipeline/config.js';
import { Pipeline, type PipelineOptions } from '../pipeline/pipeline.js';
import { createTask } from '../pipeline/task.js';
import type { Task } from '../pipeline/types.js';
import { FleetDevice } from './device.js';
import { RolloutAgent } from './rollout.js';

export interface FleetPipeline { pipeline: Pipeline; device: FleetDevice; rollout?: RolloutAgent; stop(): Promise<void> }

/** The task config with its model file replaced (module tasks get it as options.model). */
export function taskWithModel(cfg: TaskConfig, file: string): TaskConfig {
  switch (cfg.type) {
    case 'classifier': case 'detector': case 'keyword': case 'vad': return { ...cfg, model: file };
    case 'module': return { ...cfg, options: { ...cfg.options, model: file } };
    default: throw new CloudlessError('E_CONFIG', `fleet.rollout: a ${cfg.type} task has no model to roll out`);
  }
}

export async function startFleetPipeline(cfg: PipelineConfig, opts: PipelineOptions & { loadTask?: (file: string) => Promise<Task>; watchEveryMs?: number; now?: () => number }): Promise<FleetPipeline> {
  if (!cfg.fleet) throw new CloudlessError('E_CONFIG', `pipeline ${cfg.name} has no fleet: section`);
  const baseDir = opts.baseDir ?? process.cwd();
  const loadTask = opts.loadTask ?? ((file: string) => createTask(taskWithModel(cfg.task, file), { baseDir, backend: opts.backend }));
  let agent: RolloutAgent | undefined;
  const device = FleetDevice.create(cfg.fleet, { dataDir: opts.dataDir, baseDir, onRollout: (p) => void agent?.handle(p), model: () => agent?.running() });
  const s = device.state.get();
  const slot = s.active ? s.slots[s.active] : undefined;
  let pipeline: Pipeline;
  try {
    const task = opts.task ?? (slot && cfg.fleet.rollout ? await loadTask(slot.file) : undefined);
    pipeline = await Pipeline.create(cfg, { ...opts, task, everyEventSinks: [...(opts.everyEventSinks ?? []), device.eventSink] });
  } catch (err) {
    await device.stop();
    throw err;
  }
  const baseModel = 'model' in cfg.task && typeof cfg.task.model === 'string' ? path.basename(cfg.task.model) : cfg.task.type;
  if (cfg.fleet.rollout) agent = new RolloutAgent(device, pipeline, { dataDir: opts.dataDir, baseDir, loadTask, allow: cfg.allow, baseModel: { name: baseModel }, watchEveryMs: opts.watchEveryMs, now: opts.now });
  device.attach(pipeline);
  return {
    pipeline, device, rollout: agent,
    async stop() { await agent?.idle(); await pipeline.stop(); await device.stop(); },
  };
}
