import { describe, expect, test } from 'vitest';
import type { PipelineTask } from './api';
import { buildGraph, layout } from './dag';

const row = (node: string, task: string, item?: number, value?: string): PipelineTask => ({
  node, task, item, item_value: value, phase: 'Succeeded', attempts: 1, exit_code: 0,
});

describe('pipeline graph', () => {
  const spec = [
    { name: 'prepare', needs: [], forEach: false },
    { name: 'train', needs: ['prepare'], forEach: true },
    { name: 'report', needs: ['train'], forEach: false },
  ];

  test('the plan alone: one node per task, edges from needs', () => {
    const g = buildGraph(spec);
    expect(g.nodes.map((n) => n.id)).toEqual(['prepare', 'train', 'report']);
    expect(g.edges).toEqual([{ from: 'prepare', to: 'train' }, { from: 'train', to: 'report' }]);
  });

  test('a run expands for_each items, each joined to the needs', () => {
    const g = buildGraph(spec, [row('prepare', 'prepare'), row('train[0]', 'train', 0, '"cnn"'), row('train[1]', 'train', 1, '{"lr":0.1,"m":"mlp"}'), row('report', 'report')]);
    expect(g.nodes.map((n) => n.id)).toEqual(['prepare', 'train[0]', 'train[1]', 'report']);
    expect(g.nodes[1].sub).toBe('cnn');
    expect(g.nodes[2].sub).toBe('lr=0.1 m=mlp');
    expect(g.edges).toHaveLength(4);
    expect(g.nodes[3].run?.phase).toBe('Succeeded');
  });

  test('rows without a spec still show, without edges', () => {
    const g = buildGraph(undefined, [row('a', 'a'), row('b', 'b')]);
    expect(g.nodes.map((n) => n.id)).toEqual(['a', 'b']);
    expect(g.edges).toEqual([]);
  });

  test('layout goes left to right', () => {
    const p = layout(buildGraph(spec));
    const x = Object.fromEntries(p.nodes.map((n) => [n.id, n.x]));
    expect(x.prepare).toBeLessThan(x.train);
    expect(x.train).toBeLessThan(x.report);
    expect(p.width).toBeGreaterThan(3 * 150);
    expect(p.edges.every((e) => e.points.length >= 2)).toBe(true);
  });
});
