import { describe, expect, test } from 'vitest';
import { match, navigate, path, setQuery } from './router';
import { routes, section } from './app';

describe('router', () => {
  test('match', () => {
    expect(match('/runs/:id', '/runs/abc')).toEqual({ id: 'abc' });
    expect(match('/models/:name', '/models/my%20model')).toEqual({ name: 'my model' });
    expect(match('/runs/:id', '/runs/abc/x')).toBeNull();
    expect(match('/experiments', '/experiments/')).toEqual({});
    expect(match('/', '/')).toEqual({});
    expect(match('/a/:x', '/a/%E0%A4%A')).toBeNull();
  });

  test('every route pattern is distinct and reachable', () => {
    const seen = new Set<string>();
    for (const [p] of routes) {
      expect(seen.has(p)).toBe(false);
      seen.add(p);
    }
    expect(section('/runs/x')).toBe('experiments');
    expect(section('/pipeline-runs/x')).toBe('pipelines');
    expect(section('/models/fingers')).toBe('models');
    expect(section('/playground/fingers')).toBe('playground');
  });

  test('navigate and setQuery change the history', () => {
    navigate('/experiments/1?filter=x');
    expect(location.pathname).toBe('/experiments/1');
    setQuery({ sort: 'm:a:desc', filter: null });
    expect(location.search).toBe('?sort=m%3Aa%3Adesc');
    expect(path('models', 'a/b')).toBe('/models/a%2Fb');
  });
});
