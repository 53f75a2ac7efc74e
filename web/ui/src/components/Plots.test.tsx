import { render } from '@testing-library/preact';
import { describe, expect, test } from 'vitest';
import type { Run } from '../api';
import { ParallelPlot, plotColumns, position, Scatter } from './Plots';

const run = (id: string, params: Record<string, string>, metrics: Record<string, number>): Run => ({
  info: { run_id: id, experiment_id: '1', status: 'FINISHED', run_name: id },
  data: {
    params: Object.entries(params).map(([key, value]) => ({ key, value })),
    metrics: Object.entries(metrics).map(([key, value]) => ({ key, value, step: 0, timestamp: 0 })),
  },
});

const runs = [
  run('a', { lr: '0.01', model: 'small', seed: '1' }, { val_accuracy: 0.8 }),
  run('b', { lr: '0.001', model: 'wide', seed: '1' }, { val_accuracy: 0.9, test_accuracy: 0.85 }),
  run('c', { lr: '0.005', model: 'small', seed: '1' }, { val_accuracy: 0.7 }),
];

describe('compare plots', () => {
  test('columns: params that differ (numbers or categories) and every metric', () => {
    const cols = plotColumns(runs);
    expect(cols.map((c) => c.id)).toEqual(['p:lr', 'p:model', 'm:test_accuracy', 'm:val_accuracy']);
    const [lr, model, test_acc, val] = cols;
    expect(lr.numeric).toBe(true);
    expect(model).toMatchObject({ numeric: false, categories: ['small', 'wide'] });
    expect([0, 1, 2].map((i) => position(lr, i))).toEqual([1, 0, (0.005 - 0.001) / (0.01 - 0.001)]);
    expect([0, 1, 2].map((i) => position(model, i))).toEqual([0, 1, 0]);
    expect(position(test_acc, 0)).toBeUndefined();
    expect(position(test_acc, 1)).toBe(0.5); // one value: the middle
    expect(position(val, 1)).toBe(1);
  });

  test('one line per run across the axes, a break where a run has no value; a dot per run in the scatter', () => {
    const color = (i: number) => ['red', 'green', 'blue'][i];
    const cols = plotColumns(runs);
    const p = render(<ParallelPlot runs={runs} columns={cols} color={color} />);
    expect(p.container.querySelectorAll('.axis line')).toHaveLength(4);
    expect(p.container.querySelectorAll('g[data-run="a"] polyline')).toHaveLength(2); // lr-model, then val after the missing test_accuracy
    expect(p.container.querySelectorAll('g[data-run="b"] polyline')).toHaveLength(1);
    const s = render(<Scatter runs={runs} columns={cols} color={color} />);
    expect(s.container.querySelectorAll('circle')).toHaveLength(3);
    expect((s.getByLabelText('Scatter x') as HTMLSelectElement).value).toBe('p:lr');
    expect((s.getByLabelText('Scatter y') as HTMLSelectElement).value).toBe('m:val_accuracy'); // one every run has
  });
});
