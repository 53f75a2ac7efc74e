import { fireEvent, render, screen, waitFor } from '@testing-library/preact';
import { describe, expect, test } from 'vitest';
import type { Run } from '../api';
import { mockFetch } from '../test/fetch';
import { Runs } from './Runs';

const mkRun = (i: number): Run => ({
  info: { run_id: `run${i}`, run_name: `r-${i}`, experiment_id: '1', status: 'FINISHED', start_time: 1_700_000_000_000 + i, end_time: 1_700_000_060_000 + i },
  data: { metrics: [{ key: 'acc', value: i / 10_000, step: 0, timestamp: 0 }], params: [{ key: 'model', value: i % 2 ? 'cnn' : 'mlp' }] },
});
const all = Array.from({ length: 10_000 }, (_, i) => mkRun(i));

function server() {
  return mockFetch({
    'GET /api/2.0/mlflow/experiments/get': () => [200, { experiment: { experiment_id: '1', name: 'study' } }],
    'POST /api/2.0/mlflow/runs/search': ({ body }) => {
      const b = body as { filter?: string; max_results: number; page_token?: string };
      if (b.filter?.includes('>>>')) return [400, { error_code: 'INVALID_PARAMETER_VALUE', message: "expected a value after '>' at position 14" }];
      const list = b.filter ? all.filter((r) => r.data.params![0].value === 'cnn') : all;
      const from = Number(b.page_token ?? 0);
      const page = list.slice(from, from + b.max_results);
      return [200, { runs: page, next_page_token: from + b.max_results < list.length ? String(from + b.max_results) : undefined }];
    },
  });
}

describe('runs page', () => {
  test('the first page of 10,000 runs renders a screenful; the filter goes to the server', async () => {
    const calls = server();
    history.replaceState(null, '', '/experiments/1');
    const { container } = render(<Runs id="1" />);
    await screen.findByText('r-0');
    expect(screen.getByText('study')).toBeTruthy();
    const search = calls.filter((c) => c.url.pathname.endsWith('runs/search'));
    expect(search[0].body).toMatchObject({ experiment_ids: ['1'], max_results: 200, order_by: ['attributes.start_time DESC'] });
    expect(container.querySelectorAll('.vrow').length).toBeLessThan(80);
    expect(screen.getByTestId('run-count').textContent).toMatch(/200 runs loaded/);
    // Default columns: the metric and the param.
    expect(container.querySelector('.vhead')!.textContent).toMatch(/acc/);
    expect(container.querySelector('.vhead')!.textContent).toMatch(/model/);

    const box = screen.getByTestId('filter') as HTMLInputElement;
    fireEvent.input(box, { target: { value: "params.model = 'cnn'" } });
    fireEvent.submit(box.closest('form')!);
    await waitFor(() => expect(location.search).toContain('filter='));
  });

  test('a rejected filter shows the server message', async () => {
    server();
    history.replaceState(null, '', '/experiments/1?filter=' + encodeURIComponent('metrics.acc >>> 1'));
    render(<Runs id="1" />);
    const alert = await screen.findByRole('alert');
    expect(alert.textContent).toMatch(/The filter was not accepted/);
    expect(alert.textContent).toMatch(/position 14/);
  });

  test('compare needs 2 to 10 selected runs', async () => {
    server();
    history.replaceState(null, '', '/experiments/1');
    render(<Runs id="1" />);
    await screen.findByText('r-0');
    const compare = screen.getByRole('button', { name: /^Compare/ }) as HTMLButtonElement;
    expect(compare.disabled).toBe(true);
    fireEvent.click(screen.getByLabelText('Select r-0'));
    fireEvent.click(screen.getByLabelText('Select r-1'));
    await waitFor(() => expect(compare.disabled).toBe(false));
    fireEvent.click(compare);
    expect(location.pathname + location.search).toBe('/compare?runs=run0,run1');
  });
});
