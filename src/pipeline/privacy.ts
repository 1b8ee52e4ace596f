/**
 * The privacy guard: the few functions every path out of a pipeline goes
 * through. Raw buffers are zeroed after use; text that leaves (logs, ledger
 * errors, action errors) is cut short and stripped of control bytes so a
 * payload can never ride along in an error message; network destinations must
 * be on the pipeline's allow-list, checked when the pipeline loads.
 */
import { CloudlessError } from '../ir/index.js';
import type { Frame, PipelineEvent } from './types.js';

/** Overwrites a frame's raw data with zeros and detaches it from the frame. */
export function zeroFrame(frame: Frame): void {
  frame.data.fill(0);
  frame.data = EMPTY;
}
const EMPTY = new Uint8Array(0);

/** Longest text the guard lets into a log line, a ledger row or an error. */
export const MAX_TEXT = 240;

/**
 * Text safe to record: printable characters only, at most MAX_TEXT of them. A
 * binary payload that ends up in an exception (a parser quoting its input) is
 * reduced to a short, mostly-replaced prefix, never the data.
 */
export function safeText(value: unknown): string {
  const s = value instanceof Error ? value.message : typeof value === 'string' ? value : String(value);
  let out = '';
  for (const ch of s) {
    if (out.length >= MAX_TEXT) { out += '…'; break; }
    const c = ch.codePointAt(0)!;
    out += c >= 0x20 && c !== 0x7f && c !== 0xfffd ? ch : '?';
  }
  return out;
}

/** Largest event JSON the guard lets out: an event is a few fields, never a payload. */
export const MAX_EVENT_BYTES = 2048;

const EVENT_KEYS = new Set(['id', 'pipeline', 'kind', 'rule', 'time', 'label', 'score', 'box', 'count', 'value', 'state', 'causes',
  'track_id', 'track_event', 'zone', 'line', 'direction', 'dwell_s']);

/** Serialises an event, refusing any field that is not part of the event schema and any event over MAX_EVENT_BYTES. */
export function toEventJson(event: PipelineEvent): string {
  for (const k of Object.keys(event)) {
    if (!EVENT_KEYS.has(k)) throw new CloudlessError('E_INTERNAL', `event ${event.id}: field "${k}" is not allowed in an event`);
  }
  const json = JSON.stringify(event);
  if (Buffer.byteLength(json) > MAX_EVENT_BYTES) {
    throw new CloudlessError('E_INTERNAL', `event ${event.id} from rule ${event.rule} is ${Buffer.byteLength(json)} bytes, over the ${MAX_EVENT_BYTES}-byte event limit`);
  }
  return json;
}

/** The host a network action talks to, lower-cased, without brackets around IPv6. */
export function hostOf(url: string): string {
  return new URL(url).hostname.replace(/^\[|\]$/g, '').toLowerCase();
}

/**
 * Refuses a destination whose host is not on the allow-list. `where` names the
 * config key (and line) so the user knows which action to fix.
 */
export function checkAllowed(url: string, allow: readonly string[], where: string): void {
  let host: string;
  try { host = hostOf(url); } catch {
    throw new CloudlessError('E_CONFIG', `${where}: "${safeText(url)}" is not a valid URL`);
  }
  const u = new URL(url);
  if (u.username || u.password) {
    throw new CloudlessError('E_CONFIG', `${where}: the URL carries credentials; they would be stored in plain text`, {
      hint: 'store them with `cloudless secrets set NAME` and reference them as password_secret / token_secret',
    });
  }
  const allowed = new Set(allow.map((h) => h.toLowerCase()));
  if (!allowed.has(host)) {
    throw new CloudlessError('E_CONFIG', `${where}: host "${host}" is not on the pipeline's allow-list (${allow.length ? allow.join(', ') : 'empty'}); the pipeline refuses to send anything there`, {
      hint: `add "${host}" under allow: if this destination may receive the pipeline's events`,
    });
  }
}
