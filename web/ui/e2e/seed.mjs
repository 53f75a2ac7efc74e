// Seeds a server over its REST APIs: experiments, runs with params and metric
// histories, artifacts, registered models with versions and aliases, and a
// pipeline with runs.
import { api, png } from './harness.mjs';

export const pipelineSpec = `name: e2e-demo
description: A tiny shell pipeline for the UI tests.
params:
  message: {type: string, default: "hello from cairn", description: "printed by report"}
  repeat: {type: int, default: 3}
  models: [small, wide]
  marker: {type: string, default: ""}
  pause: {type: float, default: 0}
  tone: {type: string, enum: [plain, loud], default: plain, description: "how report prints"}
tasks:
  prepare:
    run: echo "preparing ${'$'}{{ params.repeat }} epochs"; echo "rows=100" >> "$CAIRN_OUTPUTS"
    outputs: [rows]
  train:
    needs: [prepare]
    for_each: ${'$'}{{ params.models }}
    run: for i in $(seq 1 ${'$'}{{ params.repeat }}); do echo "train ${'$'}{{ item }} epoch $i"; done; sleep ${'$'}{{ params.pause }}
  report:
    needs: [train]
    run: |
      if [ -n "${'$'}{{ params.marker }}" ] && [ ! -f "${'$'}{{ params.marker }}" ]; then echo "marker ${'$'}{{ params.marker }} is missing"; exit 3; fi
      echo "${'$'}{{ params.message }} (${'$'}{{ params.tone }})"
`;

const models = ['small', 'wide', 'deep', 'residual'];
const lrs = [0.001, 0.003, 0.01];

/** curve is a deterministic learning curve for a run. */
function curve(i, epochs) {
  const cap = 0.72 + 0.022 * i; // final accuracy grows with i
  const out = [];
  for (let e = 0; e < epochs; e++) {
    const t = (e + 1) / epochs;
    const acc = cap * (1 - Math.exp(-3.2 * t)) + 0.008 * Math.sin(e * 1.7 + i);
    out.push({ e, acc, loss: 1.9 * Math.exp(-2.4 * t) + 0.12 + 0.01 * Math.cos(e + i) });
  }
  return out;
}

export async function createRun(a, expId, name, start, params, tags = []) {
  const { run } = await a.mlflow('runs/create', { experiment_id: expId, run_name: name, start_time: start, user_id: 'e2e', tags });
  if (params.length) await a.mlflow('runs/log-batch', { run_id: run.info.run_id, params });
  return run.info.run_id;
}

export async function finish(a, runId, end, status = 'FINISHED') {
  await a.mlflow('runs/update', { run_id: runId, status, end_time: end });
}

/** seedTracking makes experiments "fingers-study" (12 runs), "titanic" (3 runs) and "empty". */
export async function seedTracking(url) {
  const a = api(url);
  const { experiment_id: fingers } = await a.mlflow('experiments/create', { name: 'fingers-study' });
  const { experiment_id: titanic } = await a.mlflow('experiments/create', { name: 'titanic' });
  await a.mlflow('experiments/create', { name: 'empty' });
  const t0 = Date.now() - 3 * 3600_000;
  const runs = [];
  let i = 0;
  for (const m of models) {
    for (const lr of lrs) {
      const start = t0 + i * 240_000;
      const id = await createRun(a, fingers, `${m}-lr${lr}`, start, [
        { key: 'model', value: m },
        { key: 'lr', value: String(lr) },
        { key: 'epochs', value: '12' },
        { key: 'batch', value: '64' },
      ], [{ key: 'cairn.synthetic', value: 'true' }]);
      const c = curve(i, 12);
      const metrics = [];
      for (const p of c) {
        const ts = start + (p.e + 1) * 10_000;
        metrics.push({ key: 'val_accuracy', value: p.acc, step: p.e, timestamp: ts });
        metrics.push({ key: 'train_accuracy', value: Math.min(1, p.acc + 0.04), step: p.e, timestamp: ts });
        metrics.push({ key: 'val_loss', value: p.loss, step: p.e, timestamp: ts });
        metrics.push({ key: 'train_loss', value: p.loss * 0.85, step: p.e, timestamp: ts });
      }
      metrics.push({ key: 'test_accuracy', value: c[c.length - 1].acc - 0.01, step: 0, timestamp: start + 130_000 });
      await a.mlflow('runs/log-batch', { run_id: id, metrics });
      await finish(a, id, start + 131_000, i === 5 ? 'FAILED' : 'FINISHED');
      runs.push({ id, name: `${m}-lr${lr}`, acc: c[c.length - 1].acc });
      i++;
    }
  }
  // Artifacts on the best run: an image, JSON, text and a binary.
  const best = runs[runs.length - 1];
  const { run } = await a.mlflow(`runs/get?run_id=${best.id}`);
  const root = run.info.artifact_uri.replace(/^mlflow-artifacts:/, '');
  const put = (p, bytes) => a.put(`/api/2.0/mlflow-artifacts/artifacts${root}/${p}`, new Uint8Array(bytes));
  const confusion = png(96, 96, (x, y) => {
    const cx = Math.floor(x / 16), cy = Math.floor(y / 16);
    const v = cx === cy ? 40 : 230 - ((cx * 7 + cy * 13) % 5) * 12;
    return [v, cx === cy ? 120 : v, cx === cy ? 90 : v];
  });
  await put('evaluation/test_confusion.png', confusion);
  await put('evaluation/test_metrics.json', Buffer.from(JSON.stringify({ accuracy: best.acc, per_class: { 0: 0.98, 1: 0.95, 2: 0.93, 3: 0.9, 4: 0.92, 5: 0.97 } })));
  await put('notes.txt', Buffer.from('Trained on synthetic hands.\nBest epoch: 11\n'));
  await put('model/MLmodel', Buffer.from('flavors:\n  cairn:\n    kind: image\n    input_shape: [32, 32, 1]\n'));
  await put('model/weights/checkpoint.bin', Buffer.from(new Uint8Array(2048).map((_, k) => k % 251)));

  // Titanic: three runs with a different set of keys; the last one has the
  // permutation importance a table model's training logs.
  let titanicBest;
  for (const [k, model] of ['logistic', 'mlp', 'mlp'].entries()) {
    const start = t0 + 4 * 3600_000 - (3 - k) * 60_000;
    const id = await createRun(a, titanic, `titanic-${model}-${k}`, start, [{ key: 'model', value: model }, { key: 'cv', value: '5' }]);
    titanicBest = id;
    await a.mlflow('runs/log-batch', {
      run_id: id,
      metrics: [
        { key: 'cv_accuracy_mean', value: 0.79 + k * 0.012, step: 0, timestamp: start + 5000 },
        { key: 'test_accuracy', value: 0.8 + k * 0.01, step: 0, timestamp: start + 6000 },
      ],
    });
    await finish(a, id, start + 7000);
  }
  {
    const { run } = await a.mlflow(`runs/get?run_id=${titanicBest}`);
    const root = run.info.artifact_uri.replace(/^mlflow-artifacts:/, '');
    const importance = {
      split: 'validation', count: 178, accuracy: 0.86, repeats: 5,
      features: [
        { name: 'Sex', drop: 0.093, std: 0.012 }, { name: 'Title', drop: 0.021, std: 0.006 }, { name: 'Pclass', drop: 0.02, std: 0.005 },
        { name: 'Fare', drop: 0.017, std: 0.004 }, { name: 'Ticket~target', drop: 0.004, std: 0.003 }, { name: 'Embarked', drop: -0.001, std: 0.002 },
      ],
    };
    await a.put(`/api/2.0/mlflow-artifacts/artifacts${root}/evaluation/importance.json`, new TextEncoder().encode(JSON.stringify(importance)));
  }

  // Two sweeps whose trials share names: each trial a child of its sweep's run.
  const { experiment_id: sweeps } = await a.mlflow('experiments/create', { name: 'sweeps' });
  const sweepRuns = [];
  for (const [k, sweep] of ['sweep-a', 'sweep-b'].entries()) {
    const start = t0 + 5 * 3600_000 + k * 60_000;
    const parent = await createRun(a, sweeps, sweep, start, [{ key: 'sampler', value: 'grid' }]);
    for (const [j, lr] of ['0.002', '0.0005'].entries()) {
      const id = await createRun(a, sweeps, `t00${j} lr=${lr} model=small`, start + 1000 + j, [{ key: 'lr', value: lr }, ...Array.from({ length: 8 }, (_, q) => ({ key: `setting_${q}`, value: 'x'.repeat(12) }))], [
        { key: 'mlflow.parentRunId', value: parent },
      ]);
      await finish(a, id, start + 5000);
    }
    await finish(a, parent, start + 6000);
    sweepRuns.push(parent);
  }

  // Registry: fingers with three versions (the last three runs), aliases.
  await a.mlflow('registered-models/create', { name: 'fingers', description: 'Counts raised fingers in a 32x32 grayscale photo.' });
  const top = runs.slice(-3);
  for (const r of top) {
    const { run } = await a.mlflow(`runs/get?run_id=${r.id}`);
    await a.mlflow('model-versions/create', { name: 'fingers', source: run.info.artifact_uri + '/model', run_id: r.id });
  }
  await a.mlflow('registered-models/alias', { name: 'fingers', alias: 'champion', version: '3' });
  await a.mlflow('registered-models/alias', { name: 'fingers', alias: 'challenger', version: '2' });
  return { fingers, titanic, runs, best, titanicBest, sweeps, sweepRuns };
}

/** waitPipelineRun polls a pipeline run until it is done (or the timeout). */
export async function waitPipelineRun(url, id, timeoutMs = 30000) {
  const a = api(url);
  const end = Date.now() + timeoutMs;
  for (;;) {
    const { run } = await a.get(`/api/2.0/cairn/pipelines/runs/get?run_id=${id}`);
    if (run.phase !== 'Pending' && run.phase !== 'Running') return run;
    if (Date.now() > end) throw new Error(`pipeline run ${id} still ${run.phase} after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** seedPipeline registers the e2e pipeline and runs it once to success. */
export async function seedPipeline(url) {
  const a = api(url);
  await a.post('/api/2.0/cairn/pipelines/create', { spec: pipelineSpec });
  const { run } = await a.post('/api/2.0/cairn/pipelines/runs/submit', { pipeline: 'e2e-demo', params: {} });
  const done = await waitPipelineRun(url, run.run_id);
  if (done.phase !== 'Succeeded') throw new Error(`seed pipeline run ${run.run_id} ended ${done.phase}: ${done.message}`);
  return run.run_id;
}
