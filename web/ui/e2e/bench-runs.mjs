// Benchmark: the runs table with 10,000 runs (not part of the default e2e).
// Seeds N runs (default 10,000) over MLflow's REST API in parallel, then
// measures in Chromium, inside the page (performance.now):
//   - time to first render: navigation start to the first table row
//   - time to apply a filter: Enter to the filtered rows
//   - time to sort on a metric column: click to the sorted rows
//   - time to scroll through every run (pages of 1,000 loaded on demand)
//   - the live tune view: a running sweep of 64 trials, time to its table and
//     chart, and from a trial's report to its row showing it (streamed)
//
//   make ui && node e2e/bench-runs.mjs            (BENCH_RUNS=N, CAIRN_BIN=... to skip the go build)
import { chromium } from 'playwright-core';
import { api, chromiumPath, pool, startServer } from './harness.mjs';

const N = Number(process.env.BENCH_RUNS || 10_000);
const REPEAT = Number(process.env.BENCH_REPEAT || 3);
const models = ['small', 'wide', 'deep', 'residual', 'cnn'];

const server = await startServer();
try {
  const a = api(server.url);
  const { experiment_id: exp } = await a.mlflow('experiments/create', { name: 'bench' });
  let t = Date.now();
  const base = Date.now() - N * 1000;
  await pool([...Array(N).keys()], 16, async (i) => {
    const start = base + i * 1000;
    const { run } = await a.mlflow('runs/create', { experiment_id: exp, run_name: `run-${i}`, start_time: start });
    const acc = (Math.sin(i * 12.9898) * 43758.5453) % 1;
    await a.mlflow('runs/log-batch', {
      run_id: run.info.run_id,
      params: [
        { key: 'model', value: models[i % models.length] },
        { key: 'lr', value: String([0.001, 0.003, 0.01][i % 3]) },
        { key: 'batch', value: String([32, 64][i % 2]) },
        { key: 'seed', value: String(i) },
      ],
      metrics: [
        { key: 'acc', value: Math.abs(acc), step: 0, timestamp: start + 500 },
        { key: 'loss', value: 1 - Math.abs(acc), step: 0, timestamp: start + 500 },
        { key: 'val_accuracy', value: Math.abs(acc) * 0.98, step: 0, timestamp: start + 500 },
        { key: 'epoch_time', value: 10 + (i % 7), step: 0, timestamp: start + 500 },
      ],
    });
    await a.mlflow('runs/update', { run_id: run.info.run_id, status: 'FINISHED', end_time: start + 900 });
  });
  const seedS = (Date.now() - t) / 1000;
  console.log(`seeded ${N} runs (3 requests each, 16 in parallel) in ${seedS.toFixed(1)}s (${((3 * N) / seedS).toFixed(0)} requests/s)`);

  const browser = await chromium.launch({ executablePath: chromiumPath });
  const ctx = await browser.newContext({ baseURL: server.url, viewport: { width: 1440, height: 900 } });
  // Record when the first row appears, in page time (ms since navigation start).
  await ctx.addInitScript(() => {
    new MutationObserver((_, obs) => {
      if (document.querySelector('.vrow')) {
        window.__firstRow = performance.now();
        obs.disconnect();
      }
    }).observe(document, { childList: true, subtree: true });
  });
  const errors = [];
  const results = { first: [], filter: [], sort: [], scrollAll: [], longTask: [] };

  /** until resolves with the ms from now until the table is ready with a count that satisfies ok. */
  const timeUntil = (page, action, ok) =>
    page.evaluate(
      ({ action, ok }) =>
        new Promise((resolve) => {
          const check = new Function('n', 'return ' + ok);
          const t0 = performance.now();
          const done = () => {
            const el = document.querySelector('[data-state]');
            return el && el.getAttribute('data-state') === 'ready' && check(Number(el.getAttribute('data-count')));
          };
          const obs = new MutationObserver(() => {
            if (done()) {
              obs.disconnect();
              resolve(performance.now() - t0);
            }
          });
          obs.observe(document.body, { subtree: true, attributes: true, childList: true });
          new Function(action)();
        }),
      { action, ok },
    );

  for (let r = 0; r < REPEAT; r++) {
    const page = await ctx.newPage();
    page.on('console', (m) => m.type() === 'error' && errors.push(m.text()));
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(`/experiments/${exp}`);
    await page.locator('[data-state="ready"]').waitFor();
    results.first.push(await page.evaluate(() => window.__firstRow));

    // Filter: about 1 in 10 runs match.
    await page.getByTestId('filter').fill("metrics.acc > 0.5 and params.model = 'cnn'");
    results.filter.push(
      await timeUntil(page, `document.querySelector('[data-testid=filter]').form.requestSubmit()`, 'n > 0 && n < 2000 && document.querySelector("[data-query]").dataset.query.includes("cnn")'),
    );
    // Back to everything, then sort on a metric (server-side order_by).
    await page.getByRole('button', { name: 'Clear' }).click();
    await page.waitForFunction(() => document.querySelector('[data-state="ready"]') && !location.search.includes('filter'));
    results.sort.push(
      await timeUntil(page, `[...document.querySelectorAll('.vhead .cell')].find((c) => c.textContent.includes('val_accuracy')).click()`, 'n >= 200 && document.querySelector("[data-query]").dataset.query.includes("val_accuracy")'),
    );
    // Scroll to the end until every run is loaded, watching for long tasks.
    const scroll = await page.evaluate(
      (total) =>
        new Promise((resolve) => {
          let longest = 0;
          new PerformanceObserver((l) => l.getEntries().forEach((e) => (longest = Math.max(longest, e.duration)))).observe({ type: 'longtask', buffered: false });
          const box = document.querySelector('.vtable');
          const t0 = performance.now();
          const step = () => {
            box.scrollTop = box.scrollHeight;
            const n = Number(document.querySelector('[data-count]').getAttribute('data-count'));
            if (n >= total) return resolve({ ms: performance.now() - t0, longest, rows: document.querySelectorAll('.vrow').length });
            requestAnimationFrame(step);
          };
          step();
        }),
      N,
    );
    results.scrollAll.push(scroll.ms);
    results.longTask.push(scroll.longest);
    if (r === 0) console.log(`rows in the DOM after loading all ${N}: ${scroll.rows}`);
    await page.close();
  }
  // The live tune view: a running sweep with 64 trials of 20 epochs each.
  const T = Number(process.env.BENCH_TRIALS || 64);
  const { run: sweep } = await a.mlflow('runs/create', { experiment_id: exp, run_name: 'sweep', start_time: Date.now() });
  await a.mlflow('runs/log-batch', { run_id: sweep.info.run_id, params: [{ key: 'tune.metric', value: 'val_accuracy' }, { key: 'tune.mode', value: 'max' }] });
  const trials = [];
  await pool([...Array(T).keys()], 16, async (i) => {
    const { run } = await a.mlflow('runs/create', { experiment_id: exp, run_name: `t${String(i).padStart(3, '0')}`, start_time: Date.now(), tags: [{ key: 'mlflow.parentRunId', value: sweep.info.run_id }] });
    trials[i] = run.info.run_id;
    const now = Date.now();
    await a.mlflow('runs/log-batch', {
      run_id: run.info.run_id,
      params: [{ key: 'lr', value: String(0.001 * (1 + (i % 8))) }, { key: 'model', value: models[i % models.length] }],
      metrics: [...Array(20).keys()].map((e) => ({ key: 'val_accuracy', value: 0.5 + (e / 40) * (1 + (i % 5) / 10), step: e + 1, timestamp: now + e })),
    });
  });
  const live = { first: [], update: [] };
  for (let r = 0; r < REPEAT; r++) {
    const page = await ctx.newPage();
    page.on('console', (m) => m.type() === 'error' && errors.push(m.text()));
    const t0 = Date.now();
    await page.goto(`/runs/${sweep.info.run_id}`);
    await page.waitForFunction((n) => document.querySelectorAll('[data-testid="trials"] tr[data-trial]').length === n && document.querySelector('[data-testid="trials"] [data-metric] canvas'), T);
    live.first.push(Date.now() - t0);
    // A trial reports: how long until its row shows the new value.
    const id = trials[r % T];
    const value = 0.9 + r / 1000;
    const t1 = Date.now();
    await a.mlflow('runs/log-batch', { run_id: id, metrics: [{ key: 'val_accuracy', value, step: 21 + r, timestamp: Date.now() }] });
    await page.waitForFunction(({ id, v }) => document.querySelector(`tr[data-trial="${id}"]`)?.textContent.includes(v), { id, v: String(Number(value.toPrecision(4))) });
    live.update.push(Date.now() - t1);
    await page.close();
  }
  await browser.close();
  const med = (xs) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)];
  const fmt = (xs) => `median ${med(xs).toFixed(0)} ms  (runs: ${xs.map((x) => x.toFixed(0)).join(', ')})`;
  console.log(`runs table with ${N} runs, ${REPEAT} page loads each:`);
  console.log(`  time to first render (navigation to first row):    ${fmt(results.first)}`);
  console.log(`  time to apply a filter (Enter to filtered rows):    ${fmt(results.filter)}`);
  console.log(`  time to sort on a metric (click to sorted rows):    ${fmt(results.sort)}`);
  console.log(`  time to scroll through all ${N} (pages of 1,000):  ${fmt(results.scrollAll)}`);
  console.log(`  longest main-thread task while scrolling:           ${fmt(results.longTask)}`);
  console.log(`live tune view, a running sweep of ${T} trials x 20 epochs:`);
  console.log(`  time to the table and chart of every trial:         ${fmt(live.first)}`);
  console.log(`  a trial reports: until its row shows the value:     ${fmt(live.update)} (the server reads the store each second)`);
  if (errors.length) {
    console.error('console errors:\n' + errors.join('\n'));
    process.exitCode = 1;
  }
} finally {
  await server.stop();
}
