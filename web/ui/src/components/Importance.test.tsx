import { render, screen } from '@testing-library/preact';
import { describe, expect, test } from 'vitest';
import { mockFetch } from '../test/fetch';
import { Importance } from './Importance';

const report = {
  split: 'validation',
  count: 178,
  accuracy: 0.86,
  repeats: 5,
  features: [
    { name: 'Sex', drop: 0.093, std: 0.01 },
    { name: 'Title', drop: 0.021, std: 0.004 },
    { name: 'Embarked', drop: -0.002, std: 0.003 },
  ],
};

const listing = (): [number, unknown] => [200, { files: [{ path: 'evaluation/importance.json', is_dir: false, file_size: 300 }] }];

describe('feature importance', () => {
  test('draws the columns largest first, scaled to the largest drop', async () => {
    const calls = mockFetch({ 'GET /api/2.0/mlflow/artifacts/list': listing, 'GET /get-artifact': () => [200, report] });
    render(<Importance runId="r1" top={2} />);
    const panel = await screen.findByTestId('importance');
    expect(calls[0].url.searchParams.get('path')).toBe('evaluation');
    expect(calls[1].url.searchParams.get('path')).toBe('evaluation/importance.json');
    expect(calls[1].url.searchParams.get('run_id')).toBe('r1');
    const rows = panel.querySelectorAll('tbody tr');
    expect(rows).toHaveLength(2);
    expect(rows[0].textContent).toMatch(/Sex.*0\.093/);
    expect((rows[0].querySelector('.meter > div') as HTMLElement).style.width).toBe('100.0%');
    expect((rows[1].querySelector('.meter > div') as HTMLElement).style.width).toBe('22.6%');
    expect(panel.textContent).toMatch(/1 more in/);
    expect(panel.textContent).toMatch(/validation, 178 rows, accuracy 0.86/);
  });

  test('a run without a report shows nothing and fetches no report', async () => {
    const calls = mockFetch({ 'GET /api/2.0/mlflow/artifacts/list': () => [200, { files: [{ path: 'evaluation/test_confusion.png', is_dir: false }] }] });
    const { container } = render(<Importance runId="r2" />);
    await new Promise((r) => setTimeout(r, 20));
    expect(calls.map((c) => c.url.pathname)).toEqual(['/api/2.0/mlflow/artifacts/list']);
    expect(container.textContent).toBe('');
  });

  test('a broken report says so', async () => {
    mockFetch({ 'GET /api/2.0/mlflow/artifacts/list': listing, 'GET /get-artifact': () => [200, { split: 'validation' }] });
    render(<Importance runId="r3" />);
    expect((await screen.findByRole('alert')).textContent).toMatch(/no features list/);
  });
});
