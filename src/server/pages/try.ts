/**
 * Try it: drop a picture or allow the webcam; CenterNet runs in this page on
 * the engine's wasm kernels and the boxes are drawn on the picture. The
 * picture is never sent anywhere: the model files and kernels.wasm are
 * fetched from this server, and the server has no endpoint that accepts one.
 */
import {
  createBrowserDetector, drawDetections, initWasm, threadStats, threadsUnavailable, type BrowserDetector, type Detection,
} from '../../browser/index.js';
import { h, setContent, table } from './dom.js';

let detector: Promise<BrowserDetector> | undefined;

/** Up to four threads where the page is cross-origin isolated (the dashboard sends COOP and COEP), else one. */
const TRY_THREADS = (globalThis as { crossOriginIsolated?: boolean }).crossOriginIsolated ? Math.max(1, Math.min(4, navigator.hardwareConcurrency || 1)) : 1;

function getDetector(): Promise<BrowserDetector> {
  detector ??= initWasm().then(() => createBrowserDetector('centernet', '/models/centernet/centernet.json', { threads: TRY_THREADS }));
  return detector;
}

function detectionsTable(dets: readonly Detection[]): HTMLTableElement {
  const t = table(['label', 'score', 'box (x1, y1, x2, y2)'], dets.map((d) => [d.label, d.score.toFixed(2), d.box.map((v) => Math.round(v)).join(', ')]), { id: 'detections' });
  t.querySelectorAll('tbody tr').forEach((tr, k) => {
    const d = dets[k]!;
    tr.setAttribute('data-label', d.label);
    tr.setAttribute('data-score', String(d.score));
    tr.setAttribute('data-box', d.box.join(','));
  });
  return t;
}

export async function renderTry(): Promise<void> {
  const file = h('input', { type: 'file', accept: 'image/*', id: 'picture' });
  const camera = h('button', { type: 'button', id: 'camera' }, 'use the webcam');
  const drop = h('div', { class: 'drop', id: 'drop' }, 'drop a picture here, or ', file, ' or ', camera);
  const canvas = h('canvas', { id: 'view', width: 640, height: 480 });
  const status = h('p', { id: 'try-status', class: 'muted' }, 'loading the detector (CenterNet, 512×512) from this server…');
  const results = h('div', { id: 'results' });
  const video = h('video', { muted: true, playsinline: true, hidden: true });
  setContent(h('p', {}, 'Detection runs inside this page with the cloudless engine; the picture is not uploaded.'), drop, status, canvas, results, video);
  const ctx = canvas.getContext('2d')!;

  let ready: BrowserDetector;
  try {
    ready = await getDetector();
    const threads = threadStats().workers + 1;
    status.textContent = `ready (${threads === 1 ? `one thread${threadsUnavailable() ? `: ${threadsUnavailable()}` : ''}` : `${threads} threads`})`;
  } catch (err) {
    status.textContent = `the detector did not load: ${(err as Error).message}`;
    return;
  }

  const show = async (source: ImageBitmap | HTMLVideoElement, w: number, hgt: number, label: string) => {
    const r = await ready.detect(source);
    const scale = Math.min(1, 960 / Math.max(w, hgt));
    canvas.width = Math.round(w * scale);
    canvas.height = Math.round(hgt * scale);
    ctx.drawImage(source, 0, 0, canvas.width, canvas.height);
    drawDetections(ctx, r.detections, { scale });
    results.replaceChildren(detectionsTable(r.detections));
    status.textContent = `${label}: ${r.detections.length} object(s) in ${r.ms.toFixed(0)} ms (inference ${r.timings.inferenceMs.toFixed(0)} ms)`;
    status.dataset.count = String(r.detections.length);
    return r;
  };

  const onFile = async (f: File | undefined) => {
    if (!f) return;
    status.textContent = `detecting in ${f.name}…`;
    try {
      const bmp = await createImageBitmap(f, { imageOrientation: 'from-image' });
      await show(bmp, bmp.width, bmp.height, f.name);
      bmp.close();
    } catch (err) {
      status.textContent = `${f.name}: ${(err as Error).message}`;
    }
  };
  file.addEventListener('change', () => void onFile(file.files?.[0]));
  drop.addEventListener('dragover', (e) => { e.preventDefault(); drop.classList.add('over'); });
  drop.addEventListener('dragleave', () => drop.classList.remove('over'));
  drop.addEventListener('drop', (e) => { e.preventDefault(); drop.classList.remove('over'); void onFile(e.dataTransfer?.files[0]); });

  camera.addEventListener('click', async () => {
    try {
      video.srcObject = await navigator.mediaDevices.getUserMedia({ video: { width: 640, height: 480 }, audio: false });
      await video.play();
    } catch (err) {
      status.textContent = `no webcam: ${(err as Error).message}`;
      return;
    }
    camera.disabled = true;
    let frames = 0;
    const loop = async () => {
      if (video.readyState >= 2 && video.videoWidth > 0) {
        await show(video, video.videoWidth, video.videoHeight, `webcam frame ${++frames}`);
        status.dataset.frames = String(frames);
      }
      setTimeout(() => void loop(), 50);
    };
    void loop();
  });
}
