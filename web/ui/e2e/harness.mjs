// The e2e harness: builds the cairn binary (with the embedded UI), starts a
// real `cairn server` on a free loopback port over a temp data folder, and
// talks to its APIs. Used by ui.test.mjs and bench-runs.mjs.
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { crc32, deflateSync } from 'node:zlib';

export const uiDir = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const repoDir = resolve(uiDir, '../..');
export const chromiumPath = process.env.CHROMIUM_PATH || '/usr/bin/chromium';

/** buildCairn builds ./cmd/cairn into dir, or returns $CAIRN_BIN when set. */
export function buildCairn(dir) {
  if (process.env.CAIRN_BIN) return process.env.CAIRN_BIN;
  if (!existsSync(join(repoDir, 'internal/web/ui/dist/app/index.html'))) {
    throw new Error('the UI is not built: run `make ui` (or `npm run build` in web/ui) before the e2e tests');
  }
  const bin = join(dir, 'cairn');
  const t = Date.now();
  execFileSync('go', ['build', '-o', bin, './cmd/cairn'], { cwd: repoDir, stdio: 'inherit' });
  console.error(`# built ${bin} in ${((Date.now() - t) / 1000).toFixed(1)}s`);
  return bin;
}

export function freePort() {
  return new Promise((res, rej) => {
    const s = createServer();
    s.unref();
    s.on('error', rej);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => res(port));
    });
  });
}

/** startServer starts `cairn server` and waits until /health answers. */
export async function startServer({ bin, keep = false } = {}) {
  const tmp = mkdtempSync(join(tmpdir(), 'cairn-e2e-'));
  bin = bin ?? buildCairn(tmp);
  const data = join(tmp, 'data');
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const log = [];
  const proc = spawn(bin, ['server', '--data', data, '--addr', `127.0.0.1:${port}`, '--log-level', 'warn'], {
    cwd: tmp,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const keepLog = (b) => {
    log.push(b.toString());
    if (log.length > 400) log.shift();
  };
  proc.stdout.on('data', keepLog);
  proc.stderr.on('data', keepLog);
  let exited = null;
  proc.on('exit', (code) => (exited = code));
  for (let i = 0; i < 300; i++) {
    if (exited !== null) throw new Error(`cairn server exited (${exited}):\n${log.join('')}`);
    try {
      const r = await fetch(url + '/health');
      if (r.ok) break;
    } catch {
      /* not up yet */
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    url,
    tmp,
    data,
    bin,
    log: () => log.join(''),
    async stop() {
      if (exited === null) {
        proc.kill('SIGTERM');
        await new Promise((r) => {
          const t = setTimeout(() => (proc.kill('SIGKILL'), r()), 10000);
          proc.on('exit', () => (clearTimeout(t), r()));
        });
      }
      if (!keep) rmSync(tmp, { recursive: true, force: true });
    },
  };
}

/** api returns JSON helpers bound to a server URL; a non-2xx answer throws with the body. */
export function api(url) {
  const call = async (method, path, body, headers = {}) => {
    const r = await fetch(url + path, {
      method,
      headers: body !== undefined && !(body instanceof Uint8Array) ? { 'Content-Type': 'application/json', ...headers } : headers,
      body: body === undefined ? undefined : body instanceof Uint8Array ? body : JSON.stringify(body),
    });
    const text = await r.text();
    if (!r.ok) throw new Error(`${method} ${path}: ${r.status} ${text}`);
    return text ? JSON.parse(text) : {};
  };
  return {
    get: (p) => call('GET', p),
    post: (p, b) => call('POST', p, b),
    put: (p, bytes) => call('PUT', p, bytes),
    mlflow: (p, b) => call(b === undefined ? 'GET' : 'POST', '/api/2.0/mlflow/' + p, b),
  };
}

/** png encodes an RGB image (w×h, pixel(x, y) → [r, g, b]) as PNG bytes. */
export function png(w, h, pixel) {
  const raw = Buffer.alloc((w * 3 + 1) * h);
  for (let y = 0; y < h; y++) {
    raw[y * (w * 3 + 1)] = 0;
    for (let x = 0; x < w; x++) {
      const [r, g, b] = pixel(x, y);
      const o = y * (w * 3 + 1) + 1 + x * 3;
      raw[o] = r;
      raw[o + 1] = g;
      raw[o + 2] = b;
    }
  }
  const chunk = (type, data) => {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(data.length);
    const td = Buffer.concat([Buffer.from(type), data]);
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32(td) >>> 0);
    return Buffer.concat([len, td, crc]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(w, 0);
  ihdr.writeUInt32BE(h, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 2; // RGB
  return Buffer.concat([Buffer.from([137, 80, 78, 71, 13, 10, 26, 10]), chunk('IHDR', ihdr), chunk('IDAT', deflateSync(raw)), chunk('IEND', Buffer.alloc(0))]);
}

/** pool runs fn over items with at most n in flight. */
export async function pool(items, n, fn) {
  const out = new Array(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(n, items.length) }, async () => {
      while (next < items.length) {
        const i = next++;
        out[i] = await fn(items[i], i);
      }
    }),
  );
  return out;
}
