import { describe, expect, test } from 'vitest';
import type { Run } from './api';
import { collectKeys, defaultColumns, metric, nestRuns, orderBy, parseSort, quoteKey, runName, sortParam } from './runs';

const run = (id: string, metrics: Record<string, number | string>, params: Record<string, string>, tags: Record<string, string> = {}): Run => ({
  info: { run_id: id, experiment_id: '1', status: 'FINISHED' },
  data: {
    metrics: Object.entries(metrics).map(([key, value]) => ({ key, value, step: 0, timestamp: 0 })),
    params: Object.entries(params).map(([key, value]) => ({ key, value })),
    tags: Object.entries(tags).map(([key, value]) => ({ key, value })),
  },
});

describe('runs table helpers', () => {
  test('order_by expressions in MLflow syntax', () => {
    expect(orderBy('m:val_accuracy', true)).toBe('metrics.val_accuracy DESC');
    expect(orderBy('p:lr', false)).toBe('params.lr ASC');
    expect(orderBy('t:cairn.synthetic', false)).toBe('tags.`cairn.synthetic` ASC');
    expect(orderBy('m:val acc', true)).toBe('metrics.`val acc` DESC');
    expect(orderBy('start', true)).toBe('attributes.start_time DESC');
    expect(orderBy('name', false)).toBe('attributes.run_name ASC');
    expect(orderBy('duration', false)).toBeUndefined();
    expect(quoteKey('a-b')).toBe('`a-b`');
  });

  test('sort round-trips through the URL', () => {
    const s = parseSort('m:val_accuracy:desc');
    expect(s).toEqual({ id: 'm:val_accuracy', desc: true });
    expect(sortParam(s)).toBe('m:val_accuracy:desc');
    expect(parseSort('p:lr:asc')).toEqual({ id: 'p:lr', desc: false });
    expect(parseSort('duration:asc')).toBeNull();
    expect(parseSort(null)).toBeNull();
  });

  test('keys and default columns put the headline metrics first', () => {
    const runs = [
      run('a', { train_loss: 1, val_accuracy: 0.9, zeta: 3 }, { lr: '0.1', model: 'cnn' }, { 'mlflow.user': 'x', team: 'ml' }),
      run('b', { val_loss: 0.3, test_accuracy: 0.8 }, { batch: '32' }),
    ];
    const keys = collectKeys(runs);
    expect(keys.metrics).toEqual(['test_accuracy', 'train_loss', 'val_accuracy', 'val_loss', 'zeta']);
    expect(keys.params).toEqual(['batch', 'lr', 'model']);
    expect(keys.tags).toEqual(['team']); // system tags are left out
    expect(defaultColumns(keys)).toEqual([
      'name', 'status', 'start', 'duration',
      'm:val_accuracy', 'm:test_accuracy', 'm:val_loss', 'm:train_loss', 'm:zeta',
      'p:batch', 'p:lr', 'p:model',
    ]);
  });

  test('values: NaN comes as a string; names fall back to the ID', () => {
    const r = run('0123456789abcdef', { a: 'NaN', b: '-Infinity', c: 2 }, {});
    expect(metric(r, 'a')).toBeNaN();
    expect(metric(r, 'b')).toBe(-Infinity);
    expect(metric(r, 'c')).toBe(2);
    expect(metric(r, 'missing')).toBeUndefined();
    expect(runName(r)).toBe('01234567');
  });

  test('nestRuns puts children under their loaded parent, collapsed until expanded', () => {
    const child = (id: string, parent: string) => run(id, {}, {}, { 'mlflow.parentRunId': parent });
    const runs = [run('a', {}, {}), child('a1', 'a'), run('b', {}, {}), child('a2', 'a'), child('a1x', 'a1'), child('orphan', 'gone'), child('l1', 'l2'), child('l2', 'l1')];
    const ids = (e: Set<string>) => nestRuns(runs, e).map((r) => `${'  '.repeat(r.depth)}${r.run.info.run_id}${r.children ? `(${r.children})` : ''}`);
    // A parent not loaded leaves the child at the top; a cycle of parents nests neither.
    expect(ids(new Set())).toEqual(['a(2)', 'b', 'orphan', 'l1', 'l2']);
    expect(ids(new Set(['a']))).toEqual(['a(2)', '  a1(1)', '  a2', 'b', 'orphan', 'l1', 'l2']);
    expect(ids(new Set(['a', 'a1', 'l2']))).toEqual(['a(2)', '  a1(1)', '    a1x', '  a2', 'b', 'orphan', 'l1', 'l2']);
  });
});
