import { render, screen } from '@testing-library/preact';
import { describe, expect, test } from 'vitest';
import type { Run } from '../api';
import { mockFetch } from '../test/fetch';
import { SweepTrials, trialMetric, Trials, varying } from './Trials';

const run = (id: string, params: Record<string, string>, metrics: Record<string, number>, tags: Record<string, string> = {}, status = 'FINISHED'): Run => ({
  info: { run_id: id, experiment_id: '1', status, run_name: id },
  data: {
    params: Object.entries(params).map(([key, value]) => ({ key, value })),
    metrics: Object.entries(metrics).map(([key, value]) => ({ key, value, step: 4, timestamp: 0 })),
    tags: Object.entries(tags).map(([key, value]) => ({ key, value })),
  },
});

describe('trials', () => {
  const sweep = run('s', { 'tune.metric': 'val_loss', 'tune.mode': 'min' }, {});
  const kids = [
    run('a', { lr: '0.01', epochs: '6' }, { val_loss: 0.3, val_accuracy: 0.9 }),
    run('b', { lr: '0.001', epochs: '6' }, { val_loss: 0.5, val_accuracy: 0.8 }, { 'cairn.tune.stopped': 'asha: below the top 1/2 at step 2' }, 'KILLED'),
  ];

  test("the sweep's metric and the params that vary", () => {
    expect(trialMetric(sweep, kids)).toBe('val_loss');
    expect(trialMetric(run('p', {}, {}), kids)).toBe('val_accuracy');
    expect(varying(kids)).toEqual(['lr']);
  });

  test('a table of trials, the best by the sweep mode marked, and why each stopped', () => {
    mockFetch({ 'GET /api/2.0/mlflow/metrics/get-history-bulk-interval': () => [200, { metrics: [] }] });
    const { getByTestId, container } = render(<Trials run={sweep} initial={kids} />);
    const t = getByTestId('trials');
    expect(t.textContent).toMatch(/2 · 1 finished, 1 killed/);
    expect(container.querySelector('tr[data-trial="a"] td.best')?.textContent).toBe('0.3');
    expect(container.querySelector('tr[data-trial="b"]')?.textContent).toMatch(/asha: below the top 1\/2/);
    expect([...container.querySelectorAll('thead th')].map((th) => th.textContent)).toEqual(['Trial', 'Status', 'lr', 'val_loss', 'step', 'stopped by', 'duration']);
  });

  test("a pipeline's tune.sweep task shows its tracking run's trials", async () => {
    const calls = mockFetch({
      'GET /api/2.0/mlflow/runs/get': () => [200, { run: sweep }],
      'POST /api/2.0/mlflow/runs/search': () => [200, { runs: kids }],
      'GET /api/2.0/mlflow/metrics/get-history-bulk-interval': () => [200, { metrics: [] }],
    });
    render(<SweepTrials runId="s" />);
    expect((await screen.findByTestId('trials')).textContent).toMatch(/Trials2 · 1 finished, 1 killed/);
    const search = calls.find((c) => c.url.pathname.endsWith('runs/search'))!;
    expect((search.body as { filter: string }).filter).toBe("tags.mlflow.parentRunId = 's'");
  });
});
