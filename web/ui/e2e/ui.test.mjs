// End-to-end tests of the web UI in Debian's Chromium (playwright-core)
// against a real `cairn server` seeded over its REST APIs. Every page is
// visited, screenshots go to e2e/screenshots/ (or $E2E_SCREENSHOTS), and a
// console error or an uncaught exception on any page fails the test.
//
//   node --test e2e/ui.test.mjs          (after `make ui`; CAIRN_BIN=... skips the go build)
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { createRequire } from 'node:module';
import { chromium } from 'playwright-core';
import { api, chromiumPath, startServer, uiDir } from './harness.mjs';
import { createRun, finish, seedPipeline, seedTracking, waitPipelineRun } from './seed.mjs';
import { setupServing } from './serving.mjs';

const shots = process.env.E2E_SCREENSHOTS || join(uiDir, 'e2e/screenshots');
const axePath = createRequire(import.meta.url).resolve('axe-core/axe.min.js');
mkdirSync(shots, { recursive: true });

let server, browser, context, seeded, pipelineRun, serving;
const consoleErrors = [];
let allowed = []; // regexps of console errors a test expects (a deliberate 400, say)

before(async () => {
  server = await startServer();
  seeded = await seedTracking(server.url);
  pipelineRun = await seedPipeline(server.url);
  serving = await setupServing(server);
  browser = await chromium.launch({
    executablePath: chromiumPath,
    args: ['--use-fake-ui-for-media-stream', '--use-fake-device-for-media-stream'],
  });
  context = await browser.newContext({ baseURL: server.url, viewport: { width: 1366, height: 820 }, colorScheme: 'light' });
  await context.grantPermissions(['camera'], { origin: server.url });
});

after(async () => {
  await browser?.close();
  if (server) {
    if (process.env.E2E_SERVER_LOG) writeFileSync(process.env.E2E_SERVER_LOG, server.log());
    await server.stop();
  }
});

/** open gives a fresh page that records console errors and page errors. */
async function open(path, ctx = context) {
  const page = await ctx.newPage();
  page.on('console', (m) => {
    if (m.type() === 'error' && !allowed.some((re) => re.test(m.text()))) consoleErrors.push(`${page.url()}: ${m.text()}`);
  });
  page.on('pageerror', (e) => consoleErrors.push(`${page.url()}: uncaught ${e.message}`));
  await page.goto(path);
  return page;
}

async function shot(page, name) {
  await page.waitForTimeout(150); // let charts finish their first frame
  await page.screenshot({ path: join(shots, name + '.png'), fullPage: true });
}

/** clean fails the test when any page logged a console error since the last check. */
function clean() {
  const errs = consoleErrors.splice(0);
  allowed = [];
  assert.deepEqual(errs, [], 'console errors:\n' + errs.join('\n'));
}

describe('experiments and runs', () => {
  test('experiment list links to the runs', async () => {
    const page = await open('/');
    await page.getByRole('link', { name: 'fingers-study' }).waitFor();
    assert.ok(await page.getByRole('link', { name: 'titanic', exact: true }).isVisible());
    await shot(page, '01-experiments');
    await page.getByRole('link', { name: 'fingers-study' }).click();
    await page.locator('[data-state="ready"]').waitFor();
    assert.equal(await page.locator('.vrow').count(), 12);
    await page.close();
    clean();
  });

  test('runs table filters, sorts and chooses columns', async () => {
    const page = await open(`/experiments/${seeded.fingers}`);
    await page.locator('[data-state="ready"]').waitFor();
    // Columns: metrics and params picked by default.
    const head = await page.locator('.vhead').innerText();
    for (const c of ['val_accuracy', 'model', 'lr']) assert.match(head, new RegExp(c));
    await shot(page, '02-runs');

    // Filter with MLflow syntax.
    await page.getByTestId('filter').fill("params.model = 'wide' and metrics.val_accuracy > 0.7");
    await page.getByTestId('filter').press('Enter');
    await page.waitForFunction(() => document.querySelector('[data-state="ready"]')?.getAttribute('data-count') === '3');
    assert.match(page.url(), /filter=/);
    const names = await page.locator('.vrow .cell:nth-child(2)').allInnerTexts();
    assert.ok(names.every((n) => n.startsWith('wide-')), names.join(','));
    await shot(page, '03-runs-filtered');

    // A bad filter shows the server's message.
    allowed = [/status of 400/];
    await page.getByTestId('filter').fill('metrics.val_accuracy >>> 1');
    await page.getByTestId('filter').press('Enter');
    await page.getByRole('alert').waitFor();
    assert.match(await page.getByRole('alert').innerText(), /filter was not accepted/i);
    await page.getByRole('button', { name: 'Clear' }).click();
    await page.waitForFunction(() => document.querySelector('[data-state="ready"]')?.getAttribute('data-count') === '12');

    // Sort by a metric: best first.
    await page.locator('.vhead .cell', { hasText: 'val_accuracy' }).click();
    await page.waitForFunction(() => location.search.includes('sort=m%3Aval_accuracy%3Adesc') || location.search.includes('sort=m:val_accuracy:desc'));
    await page.locator('[data-state="ready"]').waitFor();
    const first = await page.locator('.vrow').first().locator('.cell').nth(1).innerText();
    assert.equal(first, seeded.runs.reduce((a, b) => (b.acc > a.acc ? b : a)).name);

    // Choose columns: add a tag, drop a metric.
    assert.doesNotMatch(await page.locator('.vhead').innerText(), /cairn\.synthetic/);
    await page.getByRole('button', { name: /^Columns/ }).click();
    await page.getByRole('dialog').getByText('cairn.synthetic', { exact: true }).click();
    await page.getByRole('dialog').getByText('train_loss', { exact: true }).click();
    await shot(page, '03b-runs-columns');
    await page.getByRole('button', { name: 'Done' }).click();
    const chosen = await page.locator('.vhead').innerText();
    assert.match(chosen, /cairn\.synthetic/);
    assert.doesNotMatch(chosen, /train_loss/);
    assert.match(await page.locator('.vrow').first().innerText(), /true/);
    await page.close();
    clean();
  });

  test('run page: a table model shows its feature importance', async () => {
    const page = await open(`/runs/${seeded.titanicBest}`);
    const panel = page.getByTestId('importance');
    await panel.waitFor();
    assert.match(await panel.innerText(), /Sex[\s\S]*0\.093[\s\S]*Title/);
    assert.equal(await panel.locator('tbody tr').count(), 6);
    const widths = await panel.locator('.meter > div').evaluateAll((els) => els.map((e) => e.getBoundingClientRect().width));
    assert.ok(widths[0] > widths[1] && widths[1] > 0 && widths[5] === 0, `bars follow the drops: ${widths}`);
    await shot(page, '04b-run-importance');
    clean();
  });

  test('run page: params, charts, artifacts', async () => {
    const best = seeded.best;
    const page = await open(`/runs/${best.id}`);
    await page.getByTestId('params').waitFor();
    assert.match(await page.getByTestId('params').innerText(), /residual/);
    assert.match(await page.getByTestId('metrics').innerText(), /val_accuracy/);
    await shot(page, '04-run-overview');

    await page.getByRole('tab', { name: /Charts/ }).click();
    const chart = page.locator('[data-metric="val_accuracy"] canvas');
    await chart.waitFor();
    assert.ok((await chart.boundingBox()).width > 200);
    // Open the chart full width and hover it: the legend shows the value at the cursor.
    await page.locator('[data-metric="val_accuracy"]').getByRole('button', { name: 'Expand chart' }).click();
    await page.waitForFunction(() => document.querySelector('[data-metric="val_accuracy"] canvas')?.height > 300);
    await page.locator('[data-metric="val_accuracy"] .u-over').hover();
    await page.waitForFunction(() => /^step \d+: 0\.\d+/.test(document.querySelector('[data-metric="val_accuracy"] [data-testid="readout"]')?.textContent ?? ''));
    await shot(page, '05-run-charts');
    // A metric logged once is a row of one table, not a one-dot chart.
    assert.match(await page.getByTestId('single-metrics').innerText(), /test_accuracy/);
    assert.equal(await page.locator('[data-metric="test_accuracy"]').count(), 0);
    // The x axis can count time instead of steps; smoothing redraws every chart.
    await page.getByLabel('x axis').selectOption('relative');
    await page.locator('[data-metric="val_loss"] [data-testid="chart"][data-x="seconds since the first value"] canvas').waitFor();
    await page.getByLabel('smoothing').fill('0.6');
    assert.equal(await page.getByTestId('smoothing').innerText(), '0.60');
    await page.locator('[data-metric="val_loss"] canvas').waitFor();
    await shot(page, '05b-run-charts-time-smoothed');

    await page.getByRole('tab', { name: 'Artifacts' }).click();
    await page.getByTestId('artifacts').waitFor();
    await page.getByRole('treeitem', { name: /evaluation/ }).click();
    await page.getByRole('treeitem', { name: /test_confusion\.png/ }).click();
    const img = page.getByTestId('preview').locator('img');
    await img.waitFor();
    await page.waitForFunction(() => document.querySelector('[data-testid="preview"] img')?.naturalWidth === 96);
    await shot(page, '06-run-artifact-image');
    await page.getByRole('treeitem', { name: /test_metrics\.json/ }).click();
    await page.getByTestId('text-preview').waitFor();
    assert.match(await page.getByTestId('text-preview').innerText(), /"per_class": \{\n/);
    const dl = await page.getByRole('link', { name: 'Download' }).getAttribute('href');
    const res = await fetch(server.url + dl);
    assert.equal(res.status, 200);
    assert.match(await res.text(), /per_class/);
    await shot(page, '07-run-artifact-json');
    await page.close();
    clean();
  });

  test('compare overlays several runs', async () => {
    const page = await open(`/experiments/${seeded.fingers}`);
    await page.locator('[data-state="ready"]').waitFor();
    for (let i = 0; i < 3; i++) await page.locator('.vrow').nth(i).locator('input[type=checkbox]').check();
    await page.getByRole('button', { name: 'Compare (3)' }).click();
    await page.getByTestId('compare-params').waitFor();
    assert.ok((await page.locator('td.diff').count()) > 0, 'differing params are marked');
    const chart = page.locator('[data-metric="val_loss"] [data-testid="chart"]');
    await chart.locator('canvas').waitFor();
    assert.equal(await chart.getAttribute('data-series'), '3');
    assert.equal(await page.locator('[data-metric="val_loss"] .u-legend .u-series').count(), 4); // step + 3 runs
    // Full-width tables; single values as bars; parallel coordinates and a scatter of any two columns.
    const paramsBox = await page.getByTestId('compare-params').boundingBox();
    assert.ok(paramsBox.width > 1000, `the params table is ${paramsBox.width}px wide`);
    assert.match(await page.getByTestId('single-metrics').innerText(), /test_accuracy/);
    assert.equal(await page.locator('[data-testid="single-metrics"] .meter').count(), 3);
    assert.equal(await page.locator('[data-testid="parallel"] g[data-run]').count(), 3);
    assert.equal(await page.locator('[data-testid="scatter"] circle').count(), 3);
    await page.getByLabel('Scatter y').selectOption('m:train_loss');
    assert.match(await page.getByTestId('scatter').getAttribute('aria-label'), /train_loss against/);
    await shot(page, '08-compare');
    await page.close();
    clean();
  });

  test('child runs nest under their parent; the run column stays pinned', async () => {
    const page = await open(`/experiments/${seeded.sweeps}`);
    await page.locator('[data-state="ready"]').waitFor();
    assert.equal(await page.locator('.vrow').count(), 2, 'two sweeps, their trials folded');
    assert.match(await page.getByTestId('run-count').innerText(), /6 runs, 4 of them nested under a parent/);
    await page.getByRole('button', { name: /Show the 2 child runs of sweep-a/ }).click();
    assert.equal(await page.locator('.vrow').count(), 4);
    assert.equal(await page.locator('.vrow [data-depth="1"]').count(), 2);
    // The trials follow their sweep, indented.
    const order = await page.locator('.vrow').evaluateAll((rows) =>
      rows.sort((x, y) => parseFloat(x.style.top) - parseFloat(y.style.top)).map((r) => `${r.querySelector('[data-depth]').dataset.depth}:${r.querySelector('.nest a').textContent}`),
    );
    assert.deepEqual(order, ['0:sweep-b', '0:sweep-a', '1:t001 lr=0.0005 model=small', '1:t000 lr=0.002 model=small']); // newest first, as the server sorts
    await page.getByTestId('expand-all').click(); // one is open: collapse all
    assert.equal(await page.locator('.vrow').count(), 2);
    await page.getByTestId('expand-all').click();
    assert.equal(await page.locator('.vrow').count(), 6);
    await shot(page, '07b-nested-runs');
    await page.close();
    // On a narrow screen, scrolled sideways, the run names stay in view.
    const narrow = await browser.newContext({ baseURL: server.url, viewport: { width: 600, height: 800 } });
    const p2 = await open(`/experiments/${seeded.sweeps}`, narrow);
    await p2.locator('[data-state="ready"]').waitFor();
    const table = p2.getByTestId('runs-table');
    const before = await p2.locator('.vrow .cell.pinned').nth(1).boundingBox();
    await table.evaluate((el) => (el.scrollLeft = 400));
    await p2.waitForTimeout(100);
    assert.ok(await table.evaluate((el) => el.scrollLeft > 0), 'the table is wide enough to scroll');
    const after = await p2.locator('.vrow .cell.pinned').nth(1).boundingBox();
    assert.ok(Math.abs(after.x - before.x) < 2, `the name column moved from ${before.x} to ${after.x}`);
    await shot(p2, '07c-pinned-run-column');
    await narrow.close();
    clean();
  });

  test('a running sweep: its trials stream in, live, until all have finished', async () => {
    const a = api(server.url);
    const { experiment_id: exp } = await a.mlflow('experiments/create', { name: 'live-sweep' });
    const parent = await createRun(a, exp, 'sweep-live', Date.now(), [
      { key: 'tune.metric', value: 'val_accuracy' },
      { key: 'tune.mode', value: 'max' },
    ]);
    const page = await open(`/runs/${parent}`);
    const trials = page.getByTestId('trials');
    await trials.waitFor();
    await page.waitForFunction(() => document.querySelector('[data-testid="trials"]')?.dataset.live === 'true');
    const child = (name, lr) => createRun(a, exp, name, Date.now(), [{ key: 'lr', value: lr }], [{ key: 'mlflow.parentRunId', value: parent }]);
    const t0 = await child('t000 lr=0.01', '0.01');
    const t1 = await child('t001 lr=0.001', '0.001');
    const now = Date.now();
    await a.mlflow('runs/log-batch', { run_id: t0, metrics: [1, 2, 3].map((step) => ({ key: 'val_accuracy', value: 0.5 + step / 10, step, timestamp: now + step })) });
    await a.mlflow('runs/log-batch', { run_id: t1, metrics: [{ key: 'val_accuracy', value: 0.55, step: 1, timestamp: now }] });
    // No reload: the server's event stream brings both trials, their params, metric and step.
    await page.waitForFunction((id) => /0\.8\s*3/.test(document.querySelector(`tr[data-trial="${id}"]`)?.textContent ?? ''), t0);
    assert.match(await page.locator(`tr[data-trial="${t1}"]`).innerText(), /0\.001[\s\S]*0\.55/);
    await trials.locator('[data-metric="val_accuracy"] canvas').waitFor();
    await a.mlflow('runs/set-tag', { run_id: t1, key: 'cairn.tune.stopped', value: 'asha: below the top 1/2 at step 1' });
    await finish(a, t1, Date.now(), 'KILLED');
    await finish(a, t0, Date.now());
    await finish(a, parent, Date.now());
    await page.waitForFunction(() => document.querySelector('[data-testid="trials"]')?.dataset.live === 'false');
    assert.match(await trials.innerText(), /asha: below the top 1\/2/);
    assert.match(await page.getByTestId('trial-counts').innerText(), /^2 · (1 killed, 1 finished|1 finished, 1 killed)$/);
    await page.locator('h1').getByText('Finished').waitFor(); // the run's own status follows the stream
    await shot(page, '06b-live-trials');
    await page.close();
    clean();
  });

  test('empty experiment says what to do', async () => {
    const { experiment } = await api(server.url).mlflow('experiments/get-by-name?experiment_name=empty');
    const p = await open(`/experiments/${experiment.experiment_id}`);
    await p.getByTestId('empty').waitFor();
    assert.match(await p.getByTestId('empty').innerText(), /MLFLOW_TRACKING_URI/);
    await shot(p, '09-empty-experiment');
    await p.close();
    clean();
  });
});

describe('pipelines', () => {
  test('list and a finished run with its graph and logs', async () => {
    const page = await open('/pipelines');
    await page.getByTestId('pipelines').waitFor();
    await shot(page, '10-pipelines');
    await page.getByTestId('pipelines').getByRole('link', { name: 'Succeeded' }).click();
    await page.getByTestId('dag').waitFor();
    assert.equal(await page.locator('.dag .node').count(), 4); // prepare, train[0], train[1], report
    assert.equal(await page.locator('.dag .node[data-phase="Succeeded"]').count(), 4);
    await page.waitForFunction(() => document.querySelectorAll('.dag .edge').length === 4); // once the spec is read
    await page.locator('.dag .node[data-node="train[1]"]').click();
    await page.waitForFunction(() => document.querySelector('[data-testid="logs"]')?.textContent.includes('train wide epoch 3'));
    await page.waitForSelector('[data-testid="logs"][data-done="true"]');
    await shot(page, '11-pipeline-run');
    await page.close();
    clean();
  });

  test('run form starts a run; failing task, retry; cancel', async () => {
    const marker = join(server.tmp, 'marker');
    const page = await open('/pipelines/e2e-demo');
    const form = page.getByTestId('run-form');
    await form.waitFor();
    // Typed fields from the spec, with their defaults.
    assert.equal(await form.locator('input[name="repeat"]').inputValue(), '3');
    assert.equal(await form.locator('input[name="models"]').inputValue(), 'small, wide');
    // A wrong type is caught before submitting.
    await form.locator('input[name="repeat"]').fill('two');
    await form.getByRole('button', { name: 'Run pipeline' }).click();
    assert.match(await form.getByRole('alert').first().innerText(), /repeat: expected a whole number/);
    await form.locator('input[name="repeat"]').fill('2');
    await form.locator('input[name="models"]').fill('small, wide, deep');
    await form.locator('input[name="marker"]').fill(marker);
    // An enum param is a choice list of exactly its values.
    assert.deepEqual(await form.locator('select[name="tone"] option').allInnerTexts(), ['plain', 'loud']);
    await form.locator('select[name="tone"]').selectOption('loud');
    await shot(page, '12-pipeline-form');
    await form.getByRole('button', { name: 'Run pipeline' }).click();
    await page.waitForURL(/\/pipeline-runs\//);
    const runId = page.url().split('/').pop().split('?')[0];
    // Live phases: the report task fails (no marker yet).
    await page.locator('.dag .node[data-node="report"][data-phase="Failed"]').waitFor({ timeout: 20000 });
    assert.equal(await page.locator('.dag .node').count(), 5);
    await page.locator('.dag .node[data-node="report"]').click();
    await page.waitForFunction(() => document.querySelector('[data-testid="logs"]')?.textContent.includes('is missing'));
    await shot(page, '13-pipeline-failed');
    writeFileSync(marker, 'ok');
    await page.getByRole('button', { name: 'Retry' }).click();
    await page.locator('.dag .node[data-node="report"][data-phase="Succeeded"]').waitFor({ timeout: 20000 });
    await page.getByText('Run ' + runId.slice(0, 8)).waitFor();
    assert.equal((await waitPipelineRun(server.url, runId)).phase, 'Succeeded');
    // Run again… starts from this run's params, not the defaults.
    await page.getByRole('link', { name: 'Run again…' }).click();
    await page.waitForURL(/\/pipelines\/e2e-demo\?from=/);
    await page.getByTestId('run-again').waitFor();
    const again = page.getByTestId('run-form');
    assert.equal(await again.locator('input[name="repeat"]').inputValue(), '2');
    assert.equal(await again.locator('input[name="models"]').inputValue(), 'small, wide, deep');
    assert.equal(await again.locator('input[name="marker"]').inputValue(), marker);
    assert.equal(await again.locator('select[name="tone"]').inputValue(), 'loud');
    await shot(page, '13b-run-again');
    await page.close();

    // A long task, cancelled from the UI.
    const { run } = await api(server.url).post('/api/2.0/cairn/pipelines/runs/submit', { pipeline: 'e2e-demo', params: { pause: 30, models: ['small'] } });
    const p2 = await open(`/pipeline-runs/${run.run_id}`);
    await p2.locator('.dag .node[data-phase="Running"]').waitFor({ timeout: 20000 });
    // The running item's log streams while it runs.
    await p2.waitForFunction(() => document.querySelector('[data-testid="logs"]')?.textContent.includes('train small epoch 3'));
    assert.equal(await p2.getByTestId('logs').getAttribute('data-done'), 'false');
    await shot(p2, '14-pipeline-running');
    // Cancel asks first; declining changes nothing.
    p2.once('dialog', (d) => d.dismiss());
    await p2.getByRole('button', { name: 'Cancel' }).click();
    await p2.waitForTimeout(300);
    assert.equal((await api(server.url).get(`/api/2.0/cairn/pipelines/runs/get?run_id=${run.run_id}`)).run.cancel_requested, undefined);
    p2.once('dialog', (d) => d.accept());
    await p2.getByRole('button', { name: 'Cancel' }).click();
    await p2.locator('h1 .badge[data-status="Cancelled"]').waitFor({ timeout: 20000 });
    const cancelled = await waitPipelineRun(server.url, run.run_id);
    assert.equal(cancelled.phase, 'Cancelled');
    // Every tracking run it started has ended.
    const { runs } = await api(server.url).post('/api/2.0/mlflow/runs/search', { experiment_ids: [cancelled.experiment_id], max_results: 1000 });
    assert.deepEqual(runs.filter((r) => r.info.status === 'RUNNING').map((r) => r.info.run_name), []);
    await p2.close();
    clean();
  });
});

describe('models', () => {
  test('versions with source runs; move an alias', async () => {
    const page = await open('/models');
    await page.getByTestId('models').waitFor();
    assert.match(await page.getByTestId('models').innerText(), /champion/);
    await shot(page, '15-models');
    await page.getByRole('link', { name: 'fingers', exact: true }).click();
    await page.getByTestId('versions').waitFor();
    assert.equal(await page.locator('[data-testid="versions"] tbody tr').count(), serving ? 4 : 3);
    // Source runs with their metrics.
    assert.match(await page.getByTestId('versions').innerText(), /residual-lr0\.01/);
    assert.match(await page.locator('[data-testid="versions"] thead').innerText(), /val_accuracy/);
    await shot(page, '16-model');
    // Move @challenger from version 2 to version 1.
    await page.getByLabel('Version for @challenger').selectOption('1');
    await page.getByText('@challenger now points at version 1').waitFor();
    const { model_version } = await api(server.url).mlflow('registered-models/alias?name=fingers&alias=challenger');
    assert.equal(model_version.version, '1');
    await page.locator('[data-version="1"]').getByText('challenger').waitFor();
    // A reserved alias name is refused with a clear message.
    await page.getByLabel('New alias', { exact: true }).fill('v7');
    await page.getByRole('button', { name: 'Set alias' }).click();
    assert.match(await page.getByRole('alert').innerText(), /reserved/);
    await page.close();
    clean();
  });
});

describe('playground', () => {
  test('without deployments it says how to deploy', async (t) => {
    if (serving) return t.skip('a model is deployed');
    allowed = [/status of 404/];
    const page = await open('/playground');
    await page.getByTestId('empty').waitFor();
    await shot(page, '17-playground-empty');
    await page.close();
    clean();
  });

  test('fingers: upload an image and a camera photo', async (t) => {
    if (!serving?.fingers) return t.skip(serving?.why ?? 'serving is not set up');
    // One click from the home page to a served model's playground.
    const home = await open('/');
    await home.getByRole('link', { name: 'Try the fingers model' }).click();
    await home.waitForURL(/\/playground\/fingers$/);
    await home.getByTestId('drop').waitFor();
    await home.close();
    const page = await open('/playground');
    await page.getByTestId('deployments').waitFor();
    await shot(page, '18-playground');
    await page.getByRole('link', { name: /fingers/ }).click();
    await page.getByTestId('drop').waitFor();
    await page.getByTestId('file').setInputFiles(serving.fingers.image);
    await page.getByTestId('predicted').waitFor({ timeout: 20000 });
    const predicted = await page.getByTestId('predicted').innerText();
    assert.match(predicted, /^[0-5]$/);
    assert.equal(await page.locator('[data-testid="probabilities"] .prob').count(), 6);
    await shot(page, '19-playground-fingers');
    // The fake camera of Chromium stands in for a webcam; the last photo's answer does not stay beside it.
    await page.getByTestId('camera-toggle').click();
    await page.getByTestId('snap').waitFor();
    assert.equal(await page.getByTestId('predicted').count(), 0);
    await page.waitForFunction(() => !document.querySelector('[data-testid="snap"]')?.disabled);
    await page.getByTestId('snap').click();
    await page.getByTestId('predicted').waitFor({ timeout: 20000 });
    // A broken upload gets a clear message.
    allowed = [/status of 400/];
    await page.getByTestId('file').setInputFiles({ name: 'broken.png', mimeType: 'image/png', buffer: Buffer.from('not a png') });
    await page.getByTestId('prediction').getByRole('alert').waitFor();
    await shot(page, '20-playground-error');
    await page.close();
    clean();
  });

  test('titanic: a passenger form gives a survival probability', async (t) => {
    if (!serving?.titanic) return t.skip(serving?.why ?? 'serving is not set up');
    const page = await open('/playground/titanic');
    const form = page.getByTestId('table-form');
    await form.waitFor();
    // The served model's signature gives the categories' values and the numbers' train ranges.
    assert.deepEqual(await form.locator('select[name="Sex"] option').allInnerTexts(), ['choose…', 'female', 'male']);
    assert.deepEqual(await form.locator('select[name="Pclass"] option').allInnerTexts(), ['choose…', '1', '2', '3']);
    assert.match(await form.locator('input[name="Age"]').getAttribute('placeholder'), /^[\d.]+–[\d.]+$/);
    await form.getByRole('button', { name: 'Predict' }).click();
    await page.getByTestId('probability').waitFor({ timeout: 20000 });
    assert.match(await page.getByTestId('probability').innerText(), /^\d+(\.\d)?%$/);
    await shot(page, '21-playground-titanic');
    // A bad value: caught in the form, and by the server when typed anyway.
    await form.locator('input[name="Age"]').fill('old');
    await form.getByRole('button', { name: 'Predict' }).click();
    assert.match(await form.getByRole('alert').innerText(), /Age: expected a number/);
    await page.close();
    clean();
  });
});

describe('accessibility', () => {
  // axe-core's rules on every page: no serious or critical violation.
  test('axe finds nothing serious on any page', async () => {
    const pages = [
      ['/experiments'],
      [`/experiments/${seeded.fingers}`],
      [`/runs/${seeded.best.id}`],
      [`/runs/${seeded.best.id}?tab=charts`],
      [`/runs/${seeded.best.id}?tab=artifacts`],
      [`/runs/${seeded.titanicBest}`],
      [`/compare?runs=${seeded.runs.slice(0, 3).map((r) => r.id).join(',')}`],
      ['/pipelines'],
      ['/pipelines/e2e-demo'],
      [`/pipeline-runs/${pipelineRun}`],
      ['/models'],
      ['/models/fingers'],
      ['/playground'],
    ];
    if (serving?.titanic) pages.push(['/playground/titanic']);
    if (serving?.fingers) pages.push(['/playground/fingers']);
    const found = [];
    // The server's CSP refuses injected scripts, rightly; this context lets axe in.
    const ctx = await browser.newContext({ baseURL: server.url, viewport: { width: 1366, height: 820 }, bypassCSP: true });
    for (const [path] of pages) {
      const page = await open(path, ctx);
      await page.waitForLoadState('networkidle');
      await page.waitForTimeout(150);
      await page.addScriptTag({ path: axePath });
      const res = await page.evaluate(async () => await window.axe.run(document, { resultTypes: ['violations'] }));
      for (const v of res.violations) {
        if (v.impact === 'serious' || v.impact === 'critical') {
          found.push(`${path}: ${v.id} (${v.impact}) ${v.help}: ${v.nodes.slice(0, 3).map((n) => n.target.join(' ')).join(' | ')}`);
        }
      }
      await page.close();
    }
    await ctx.close();
    assert.deepEqual(found, [], found.join('\n'));
    clean();
  });
});

describe('keyboard', () => {
  test('graph tasks, sortable headers and a skip link work from the keyboard', async () => {
    let page = await open(`/pipeline-runs/${pipelineRun}`);
    await page.getByTestId('dag').waitFor();
    const node = page.locator('.dag .node[data-node="report"]');
    await node.focus();
    assert.equal(await page.evaluate(() => document.activeElement?.getAttribute('data-node')), 'report', 'a task takes the focus');
    await page.keyboard.press('Enter');
    await page.waitForURL(/task=report/);
    await page.getByRole('button', { name: /^report: Succeeded/ }).waitFor(); // named by its <title>
    await page.close();

    page = await open(`/experiments/${seeded.fingers}`);
    await page.locator('[data-state="ready"]').waitFor();
    // The skip link jumps past the filter hints to the table.
    await page.locator('a.skip').focus();
    await page.keyboard.press('Enter');
    assert.equal(await page.evaluate(() => document.activeElement?.id), 'runs');
    // A sortable header sorts with Enter.
    const header = page.locator('.vhead .cell.sortable').nth(1);
    await header.focus();
    await page.keyboard.press('Enter');
    await page.waitForURL(/sort=/);
    await page.close();
    clean();
  });
});

describe('phones and tablets', () => {
  // Every page at a phone's 390 px and a tablet's 820 px: nothing wider than
  // the screen (no sideways scrolling of the page itself; wide tables scroll
  // inside their panel), and the pipeline log keeps a readable width.
  for (const [w, h] of [
    [390, 844],
    [820, 1180],
  ]) {
    test(`every page fits ${w} px`, async () => {
      const ctx = await browser.newContext({ baseURL: server.url, viewport: { width: w, height: h }, isMobile: w < 500, hasTouch: w < 500, colorScheme: 'light' });
      await ctx.grantPermissions(['camera'], { origin: server.url });
      const pages = [
        ['experiments', '/experiments'],
        ['runs', `/experiments/${seeded.fingers}`],
        ['run', `/runs/${seeded.best.id}`],
        ['run-charts', `/runs/${seeded.best.id}?tab=charts`],
        ['run-artifacts', `/runs/${seeded.best.id}?tab=artifacts`],
        ['compare', `/compare?runs=${seeded.runs.slice(0, 3).map((r) => r.id).join(',')}`],
        ['pipelines', '/pipelines'],
        ['pipeline', '/pipelines/e2e-demo'],
        ['pipeline-run', `/pipeline-runs/${pipelineRun}`],
        ['models', '/models'],
        ['model', '/models/fingers'],
        ['playground', '/playground'],
      ];
      if (serving?.titanic) pages.push(['playground-titanic', '/playground/titanic']);
      if (serving?.fingers) pages.push(['playground-fingers', '/playground/fingers']);
      for (const [name, path] of pages) {
        const page = await open(path, ctx);
        await page.waitForLoadState('networkidle');
        await page.waitForTimeout(200);
        const over = await page.evaluate(() => {
          const wide = [];
          for (const el of document.querySelectorAll('body *')) {
            const r = el.getBoundingClientRect();
            if (r.right > window.innerWidth + 1 && getComputedStyle(el).position !== 'fixed') {
              let p = el.parentElement, clipped = false;
              while (p) {
                const o = getComputedStyle(p).overflowX;
                if (o === 'auto' || o === 'scroll' || o === 'hidden') { clipped = true; break; }
                p = p.parentElement;
              }
              if (!clipped) wide.push(`${el.tagName.toLowerCase()}.${[...el.classList].join('.')} ends at ${Math.round(r.right)}`);
            }
          }
          return { scroll: document.documentElement.scrollWidth - window.innerWidth, wide: wide.slice(0, 5) };
        });
        assert.ok(over.scroll <= 1, `${path} at ${w}px is ${over.scroll}px too wide: ${over.wide.join('; ')}`);
        if (name === 'playground-fingers' && w < 500) {
          // A phone: an input that opens the camera app, and the back camera by default, with a switch.
          assert.equal(await page.getByTestId('capture').getAttribute('capture'), 'environment');
          await page.getByTestId('camera-toggle').click();
          const sw = page.getByTestId('switch-camera');
          await sw.waitFor();
          assert.equal(await sw.getAttribute('data-facing'), 'environment');
          await sw.click();
          assert.equal(await sw.getAttribute('data-facing'), 'user');
          await page.waitForFunction(() => !document.querySelector('[data-testid="snap"]')?.disabled);
        }
        if (name === 'pipeline-run') {
          await page.locator('.dag .node').first().click();
          const logs = page.getByTestId('logs');
          await logs.waitFor();
          assert.ok((await logs.boundingBox()).width >= Math.min(300, w - 40), `the log is ${(await logs.boundingBox()).width}px wide at ${w}px`);
        }
        await shot(page, `30-${w}-${name}`);
        await page.close();
      }
      await ctx.close();
      clean();
    });
  }
});

describe('look', () => {
  test('dark mode and a narrow laptop', async () => {
    const dark = await browser.newContext({ baseURL: server.url, viewport: { width: 1280, height: 760 }, colorScheme: 'dark' });
    let page = await open(`/runs/${seeded.best.id}?tab=charts`, dark);
    await page.locator('[data-metric="val_accuracy"] canvas').waitFor();
    const bg = await page.evaluate(() => getComputedStyle(document.body).backgroundColor);
    assert.notEqual(bg, 'rgb(245, 246, 248)', 'dark mode changes the background');
    await shot(page, '22-dark-run-charts');
    await page.close();
    page = await open(`/pipeline-runs/${pipelineRun}`, dark);
    await page.getByTestId('dag').waitFor();
    await shot(page, '23-dark-pipeline-run');
    await page.close();
    await dark.close();

    const narrow = await browser.newContext({ baseURL: server.url, viewport: { width: 1024, height: 700 } });
    page = await open(`/experiments/${seeded.fingers}`, narrow);
    await page.locator('[data-state="ready"]').waitFor();
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
    assert.ok(overflow <= 0, `the page scrolls sideways by ${overflow}px at 1024px`);
    await shot(page, '24-narrow-runs');
    await page.close();
    await narrow.close();
    clean();
  });

  test('unknown page and API paths', async () => {
    const page = await open('/no/such/page');
    await page.getByTestId('empty').waitFor();
    await page.close();
    const r = await fetch(server.url + '/api/2.0/cairn/nope');
    assert.equal(r.status, 404);
    assert.equal((await r.json()).error_code, 'ENDPOINT_NOT_FOUND');
    clean();
  });
});
