/**
 * The dashboard's pages: one bundle, the page picked by <body data-page>.
 * Data comes from the server's JSON API on the same origin; live views use
 * server-sent events. The Try page runs the engine in this page.
 */
import { Child, bytes, getJson, h, postJson, setContent, table, when } from './dom.js';
import { renderTry } from './try.js';

interface SessionInfo { loggedIn: boolean; passwordSet: boolean; loginToRead: boolean; csrf?: string }
interface PipelineRow {
  pipeline: string; state: string; causes: string[]; source: string; task: string; model?: string;
  decisionsPerSecond: number; decided: number; dropped: number; missedDeadlines: number; events: number; pending: number;
  paused?: boolean; framesPaused?: number; updatedAt: string; lastEvent?: { time: string; rule: string; kind: string; label?: string };
}
interface EventRow {
  seq: number; id: string; time: string; pipeline: string; kind: string; rule: string; event: Record<string, unknown>;
  deliveries: { sink: string; status: string; attempts: number; deliveredAt?: string; lastError?: string }[];
}

let session: SessionInfo = { loggedIn: false, passwordSet: false, loginToRead: false };

function showWho(): void {
  const who = document.getElementById('who')!;
  if (session.loggedIn) {
    const out = h('button', { type: 'button' }, 'log out');
    out.addEventListener('click', async () => { await postJson('/api/logout', {}, session.csrf); location.reload(); });
    who.replaceChildren('logged in ', out);
  } else {
    who.replaceChildren(session.passwordSet ? h('a', { href: '/login' }, 'log in for actions') : 'read-only (no password set)');
  }
}

function stream(): EventSource {
  return new EventSource('/api/stream');
}

function pipelineTable(rows: PipelineRow[]): HTMLElement {
  if (rows.length === 0) return h('p', {}, 'No pipeline has run with this data directory. Start one with ', h('code', {}, 'cloudless run pipeline.yaml'), '.');
  return table(['pipeline', 'state', 'source', 'model', 'decisions/s', 'decided', 'dropped', 'missed deadlines', 'events', 'pending', 'last event', ''], rows.map((p) => [
    p.pipeline,
    h('span', { class: `state ${p.state.startsWith('running') ? 'ok' : p.state === 'safe state' || p.state === 'paused' ? 'warn' : 'off'}`, title: p.causes.join(', ') }, p.state),
    p.source, p.model ?? p.task, p.decisionsPerSecond.toFixed(1), p.decided, p.dropped, p.missedDeadlines, p.events, p.pending,
    p.lastEvent ? `${when(p.lastEvent.time)} ${p.lastEvent.rule}${p.lastEvent.label ? ` (${p.lastEvent.label})` : ''}` : '—',
    pauseButton(p),
  ]), { id: 'pipelines' });
}

/** Pause or resume (an action: needs the login); only for a pipeline that is running now. */
function pauseButton(p: PipelineRow): HTMLElement | string {
  if (p.state.startsWith('stopped')) return '';
  const action = p.paused ? 'resume' : 'pause';
  const b = h('button', { type: 'button', 'data-action': action, disabled: !session.loggedIn, title: session.loggedIn ? `${action} ${p.pipeline}` : `log in to ${action}` }, action);
  b.addEventListener('click', async () => {
    b.setAttribute('disabled', 'true');
    const r = await postJson<{ ok?: boolean; error?: string }>(`/api/pipelines/${encodeURIComponent(p.pipeline)}/${action}`, {}, session.csrf);
    b.textContent = r.body.ok ? `${action} asked` : (r.body.error ?? `error ${r.status}`);
  });
  return b;
}

async function overview(): Promise<void> {
  const tableBox = h('div', {});
  const charts = h('div', { class: 'charts' });
  const eventsChart = h('img', { src: '/charts/events.svg', alt: 'events per minute over the last hour', width: 640, height: 200 });
  setContent(tableBox, h('h2', {}, 'Over time'), eventsChart, charts);
  const draw = (rows: PipelineRow[]) => {
    tableBox.replaceChildren(pipelineTable(rows));
    const t = Date.now();
    charts.replaceChildren(...rows.map((p) => h('img', { src: `/charts/decisions.svg?pipeline=${encodeURIComponent(p.pipeline)}&t=${t}`, alt: `${p.pipeline} decisions per second`, width: 640, height: 200 })));
    eventsChart.src = `/charts/events.svg?t=${t}`;
  };
  draw(await getJson<PipelineRow[]>('/api/pipelines'));
  stream().addEventListener('pipelines', (e) => draw(JSON.parse((e as MessageEvent).data) as PipelineRow[]));
}

function eventDetail(e: { event: Record<string, unknown> }): string {
  const ev = e.event;
  const bits: string[] = [];
  if (typeof ev.label === 'string') bits.push(ev.label);
  if (typeof ev.score === 'number') bits.push(ev.score.toFixed(2));
  if (typeof ev.value === 'number') bits.push(`value ${ev.value}`);
  if (typeof ev.state === 'string') bits.push(`state ${ev.state}`);
  if (typeof ev.count === 'number') bits.push(`count ${ev.count}`);
  return bits.join(' · ');
}

function eventRow(e: EventRow): HTMLTableRowElement {
  return h('tr', { 'data-id': e.id },
    h('td', {}, when(e.time)), h('td', {}, e.pipeline), h('td', {}, e.kind), h('td', {}, e.rule), h('td', {}, eventDetail(e)),
    h('td', {}, e.deliveries.length ? e.deliveries.map((d) => `${d.sink}: ${d.status}${d.attempts > 1 || d.status === 'pending' ? ` (${d.attempts} attempt${d.attempts === 1 ? '' : 's'})` : ''}${d.lastError ? ` — ${d.lastError}` : ''}`).join('; ') : 'ledger only'));
}

async function events(): Promise<void> {
  const params = new URLSearchParams(location.search);
  const field = (name: string, label: string, type = 'text') => h('label', {}, label, h('input', { name, type, value: params.get(name) ?? '' }));
  const form = h('form', { method: 'get', action: '/events', class: 'filters' },
    field('rule', 'rule'), field('label', 'label'), field('since', 'since', 'datetime-local'), field('until', 'until', 'datetime-local'), h('button', { type: 'submit' }, 'filter'));
  const body = h('tbody', {});
  const t = h('table', { id: 'events' }, h('thead', {}, h('tr', {}, ...['time (UTC)', 'pipeline', 'kind', 'rule', 'what', 'delivery'].map((x) => h('th', {}, x)))), body);
  const status = h('p', { class: 'muted' });
  setContent(form, status, t);
  const q = new URLSearchParams();
  for (const k of ['rule', 'label']) if (params.get(k)) q.set(k, params.get(k)!);
  for (const k of ['since', 'until']) if (params.get(k)) q.set(k, String(Date.parse(`${params.get(k)}Z`)));
  const first = await getJson<{ events: EventRow[] }>(`/api/events?${q}`);
  body.append(...first.events.map(eventRow));
  status.textContent = `${first.events.length} event(s); new ones appear live`;
  const rule = params.get('rule'), label = params.get('label');
  const until = params.get('until');
  stream().addEventListener('event', (m) => {
    const e = JSON.parse((m as MessageEvent).data) as EventRow;
    if (rule && e.rule !== rule) return;
    if (label && e.event.label !== label) return;
    if (until) return;
    body.prepend(eventRow(e));
    status.textContent = `${body.children.length} event(s); new ones appear live`;
  });
}

async function audit(): Promise<void> {
  const a = await getJson<{ events: { pipeline: string; kind: string; rule: string; events: number }[]; destinations: { sink: string; destination: string; events: number; bytes: number; pending: number }[]; perDay: { day: string; sink: string; destination: string; events: number; bytes: number }[] }>('/api/audit');
  setContent(
    h('p', { class: 'promise' }, 'Raw data sent: none. Only derived events leave a pipeline, and only to the destinations below.'),
    h('h2', {}, 'Sent off the device'),
    a.destinations.length ? table(['sink', 'destination', 'events', 'bytes', 'pending'], a.destinations.map((d) => [d.sink, d.destination, d.events, bytes(d.bytes), d.pending]), { id: 'destinations' }) : h('p', {}, 'Nothing: no network action has delivered an event.'),
    h('h2', {}, 'Per day (UTC)'),
    a.perDay.length ? table(['day', 'sink', 'destination', 'events', 'bytes of event JSON'], a.perDay.map((d) => [d.day, d.sink, d.destination, d.events, bytes(d.bytes)])) : h('p', {}, 'No deliveries recorded.'),
    h('h2', {}, 'Events recorded in the local ledger'),
    a.events.length ? table(['pipeline', 'kind', 'rule', 'events'], a.events.map((e) => [e.pipeline, e.kind, e.rule, e.events])) : h('p', {}, 'None.'),
  );
}

interface FleetDevice {
  device: string; state: 'online' | 'offline' | 'unknown'; boot: number; lastSeen?: string; model?: { name: string; version: number };
  rollout?: { step: string; version: number; running: number; reason?: string }; safeState?: boolean; decisionsPerSecond?: number;
  pending?: number; events: number; eventsLastMinute: number;
}
interface FleetView { store: boolean; devices: FleetDevice[]; events: { device: string; id: string; received: string; event: Record<string, unknown> }[] }

function fleetTables(f: FleetView): Child[] {
  if (!f.store) return [h('p', {}, 'No fleet store in this data directory. ', h('code', {}, 'cloudless fleet --broker mqtts://…'), ' fills one from the devices\' messages.')];
  const online = f.devices.filter((d) => d.state === 'online').length;
  return [
    h('p', { class: 'muted', id: 'fleet-summary' }, `${f.devices.length} device(s), ${online} online; from the fleet store, live`),
    f.devices.length ? table(['device', 'status', 'last seen', 'boot', 'model', 'rollout', 'safe state', 'decisions/s', 'events', 'events/min', 'pending'], f.devices.map((d) => [
      d.device,
      h('span', { class: `state ${d.state === 'online' ? 'ok' : 'off'}` }, d.state),
      d.lastSeen ? when(d.lastSeen) : '—', d.boot < 0 ? '—' : d.boot,
      d.model ? `${d.model.name} v${d.model.version}` : '—',
      d.rollout ? `${d.rollout.step} v${d.rollout.version}${d.rollout.reason ? ` (${d.rollout.reason})` : ''}` : '—',
      d.safeState === undefined ? '—' : h('span', { class: `state ${d.safeState ? 'warn' : 'ok'}` }, d.safeState ? 'SAFE' : 'normal'),
      d.decisionsPerSecond?.toFixed(1) ?? '—', d.events, d.eventsLastMinute, d.pending ?? '—',
    ]), { id: 'fleet-devices' }) : h('p', {}, 'No device has reported yet.'),
    h('h2', {}, 'Latest events from all devices'),
    f.events.length ? table(['received (UTC)', 'device', 'pipeline', 'kind', 'rule', 'what'], f.events.map((e) => [
      when(e.received), e.device, String(e.event.pipeline ?? ''), String(e.event.kind ?? ''), String(e.event.rule ?? ''),
      eventDetail(e),
    ]), { id: 'fleet-events' }) : h('p', {}, 'No events stored.'),
  ];
}

async function fleet(): Promise<void> {
  setContent(...fleetTables(await getJson<FleetView>('/api/fleet')));
  stream().addEventListener('fleet', (e) => setContent(...fleetTables(JSON.parse((e as MessageEvent).data) as FleetView)));
}

interface ModelEntry { name: string; kind: string; task?: string; format: string; description?: string; licence?: string; origin?: string; available: boolean; files: { path: string; sha256?: string; bytes?: number }[] }
interface ModelInfo { format: string; nodes: number; ops: Record<string, number>; parameters: number; weightBytes: number; arena?: { bytes: number }; arenaError?: string; unsupported: unknown[] }

async function models(): Promise<void> {
  const list = await getJson<ModelEntry[]>('/api/models');
  const rows = list.map((m) => {
    const sha = h('span', { class: 'muted' }, m.kind === 'zoo' ? (m.available ? 'not checked' : 'not available') : 'local file');
    const info = h('span', { class: 'muted' }, '');
    const cells: Child[] = [m.name, m.task ?? '', m.format, m.origin ?? (m.available ? 'file' : '—'), m.files[0]?.bytes ? bytes(m.files.reduce((n, f) => n + (f.bytes ?? 0), 0)) : '', sha];
    const actions = h('span', {});
    if (m.kind === 'zoo' && m.available) {
      const verify = h('button', { type: 'button', disabled: !session.loggedIn, title: session.loggedIn ? 'hash every file and compare with the manifest' : 'log in to verify' }, 'verify sha256');
      verify.addEventListener('click', async () => {
        sha.textContent = 'hashing…';
        const r = await postJson<{ ok?: boolean; error?: string; files?: { ok: boolean }[] }>(`/api/models/${encodeURIComponent(m.name)}/verify`, {}, session.csrf);
        sha.textContent = r.status === 200 ? (r.body.ok ? `ok (${r.body.files?.length} file(s))` : 'MISMATCH') : (r.body.error ?? `HTTP ${r.status}`);
        sha.className = r.status === 200 && r.body.ok ? 'ok' : 'bad';
      });
      actions.append(verify);
    }
    if (m.available) {
      const more = h('button', { type: 'button' }, 'info');
      more.addEventListener('click', async () => {
        info.textContent = 'reading…';
        try {
          const i = await getJson<ModelInfo>(`/api/models/${encodeURIComponent(m.name)}/info`);
          const top = Object.entries(i.ops).slice(0, 6).map(([o, n]) => `${o}×${n}`).join(', ');
          info.textContent = `${i.nodes} nodes (${top}${Object.keys(i.ops).length > 6 ? ', …' : ''}); ${i.parameters.toLocaleString()} parameters, ${bytes(i.weightBytes)} weights; arena ${i.arena ? bytes(i.arena.bytes) : i.arenaError ?? 'n/a'}${i.unsupported.length ? `; ${i.unsupported.length} unsupported nodes` : ''}`;
        } catch (err) { info.textContent = (err as Error).message; }
      });
      actions.append(' ', more);
    }
    return [...cells, actions, info];
  });
  setContent(table(['model', 'task', 'format', 'from', 'size', 'sha256', '', 'info'], rows, { id: 'models' }));
}

async function bench(): Promise<void> {
  const list = await getJson<{ file: string; date?: string; chart?: string; models: { name: string; results: { backend: string; dtype: string; medianMs?: number; p90Ms?: number; pairedRatio?: number; error?: string }[] }[] }[]>('/api/bench');
  if (list.length === 0) { setContent(h('p', {}, 'No bench results. ', h('code', {}, 'npm run bench'), ' writes them to bench/results/.')); return; }
  const parts: Child[] = [];
  for (const b of list) {
    parts.push(h('h2', {}, `${b.date ?? b.file}`));
    if (b.chart) parts.push(h('img', { src: `/bench/${b.chart}`, alt: `bench chart ${b.file}`, class: 'bench' }));
    for (const m of b.models) {
      parts.push(h('h3', {}, m.name), table(['backend', 'dtype', 'median ms', 'p90 ms', 'paired ratio'], m.results.map((r) => [r.backend, r.dtype, r.medianMs?.toFixed(2) ?? (r.error ?? ''), r.p90Ms?.toFixed(2) ?? '', r.pairedRatio?.toFixed(2) ?? ''])));
    }
  }
  setContent(...parts);
}

async function login(): Promise<void> {
  if (!session.passwordSet) { setContent(h('p', {}, 'No password is set on this device. Run ', h('code', {}, 'cloudless dashboard passwd'), ' to enable actions and other addresses than loopback.')); return; }
  const input = h('input', { type: 'password', name: 'password', autocomplete: 'current-password', required: true });
  const msg = h('p', { id: 'login-message', class: 'muted' });
  const form = h('form', { id: 'login' }, h('label', {}, 'password ', input), h('button', { type: 'submit' }, 'log in'), msg);
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const r = await postJson<{ error?: string }>('/api/login', { password: input.value });
    input.value = '';
    if (r.status === 200) location.href = '/';
    else msg.textContent = r.body.error ?? `HTTP ${r.status}`;
  });
  setContent(form);
}

const PAGES: Record<string, () => Promise<void>> = { '/': overview, '/events': events, '/audit': audit, '/models': models, '/bench': bench, '/fleet': fleet, '/try': renderTry, '/login': login };

async function main(): Promise<void> {
  session = await getJson<SessionInfo>('/api/session');
  showWho();
  const page = document.body.dataset.page ?? '/';
  try {
    await (PAGES[page] ?? overview)();
  } catch (err) {
    setContent(h('p', { class: 'bad' }, (err as Error).message));
  }
  document.body.dataset.ready = 'true';
}

void main();
