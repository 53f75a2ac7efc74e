// Sets up the playground's models on an e2e server: trains a tiny fingers
// CNN and a Titanic model with `cairn train` on synthetic data (seconds),
// registers them with alias champion, and deploys both through the
// deployments API. It returns null when this server has no deployments API
// (the model server is not built in), or when CAIRN_E2E_SERVING=0.
import { execFile } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { api } from './harness.mjs';

const run = promisify(execFile);

async function cairn(server, args) {
  const env = { ...process.env, MLFLOW_TRACKING_URI: server.url, CAIRN_TRACKING_URI: server.url };
  const { stdout } = await run(server.bin, args, { cwd: server.tmp, env, maxBuffer: 16 << 20, timeout: 240_000 });
  return stdout;
}

/** lastJSON reads the last JSON object a command printed. */
function lastJSON(out) {
  const i = out.lastIndexOf('\n{');
  return JSON.parse(i >= 0 ? out.slice(i + 1) : out.slice(out.indexOf('{')));
}

async function register(a, name, runId) {
  const { run: r } = await a.mlflow(`runs/get?run_id=${runId}`);
  await a.mlflow('registered-models/create', { name }).catch(() => undefined);
  const { model_version } = await a.mlflow('model-versions/create', { name, source: r.info.artifact_uri + '/model', run_id: runId });
  await a.mlflow('registered-models/alias', { name, alias: 'champion', version: model_version.version });
  return model_version.version;
}

export async function setupServing(server) {
  if (process.env.CAIRN_E2E_SERVING === '0') return null;
  const probe = await fetch(server.url + '/api/2.0/cairn/deployments/list');
  if (probe.status === 404) return null;
  const a = api(server.url);
  const t = Date.now();
  const out = { why: '' };
  const dataDir = join(server.tmp, 'train-data');

  // Fingers: 120 synthetic hands, one epoch of the small CNN at 32x32.
  const synth = join(server.tmp, 'synth-fingers');
  await cairn(server, ['data', 'synth', 'fingers', '--out', synth, '--n', '120', '--seed', '1']);
  const f = lastJSON(await cairn(server, ['train', 'fingers', '--data', synth, '--model', 'small', '--epochs', '1', '--data-dir', dataDir, '--experiment', 'fingers-e2e', '--json']));
  // The seed registered fingers v1-v3 (no real packages); the trained one is v4.
  const fv = await register(a, 'fingers', f.run_id);
  await a.post('/api/2.0/cairn/deployments/create', { name: 'fingers', model_uri: 'models:/fingers@champion', wait: true });
  const image = join(synth, readdirSync(synth).find((n) => n.endsWith('.png')));
  out.fingers = { version: fv, image };

  // Titanic: synthetic passengers, logistic regression.
  const csv = join(server.tmp, 'titanic.csv');
  await cairn(server, ['data', 'synth', 'titanic', '--out', csv, '--n', '300', '--seed', '1']);
  const tt = lastJSON(await cairn(server, ['train', 'titanic', '--data', csv, '--model', 'logistic', '--epochs', '5', '--data-dir', dataDir, '--experiment', 'titanic-e2e', '--json']));
  await register(a, 'titanic', tt.run_id);
  await a.post('/api/2.0/cairn/deployments/create', { name: 'titanic', model_uri: 'models:/titanic@champion', wait: true });
  out.titanic = true;
  console.error(`# serving set up in ${((Date.now() - t) / 1000).toFixed(1)}s`);
  return out;
}
