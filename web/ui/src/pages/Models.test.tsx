import { fireEvent, render, screen, waitFor } from '@testing-library/preact';
import { describe, expect, test } from 'vitest';
import { mockFetch } from '../test/fetch';
import { Model } from './Models';

describe('model page', () => {
  test('moving an alias posts it and reloads', async () => {
    let champion = '2';
    const calls = mockFetch({
      'GET /api/2.0/mlflow/registered-models/get': () => [200, { registered_model: { name: 'fingers', creation_timestamp: 1, aliases: [{ alias: 'champion', version: champion }] } }],
      'GET /api/2.0/mlflow/model-versions/search': () => [
        200,
        { model_versions: ['1', '2'].map((v) => ({ name: 'fingers', version: v, creation_timestamp: 1, run_id: 'r' + v, status: 'READY', aliases: v === champion ? ['champion'] : [] })) },
      ],
      'GET /api/2.0/mlflow/runs/get': ({ url }) => [200, { run: { info: { run_id: url.searchParams.get('run_id'), run_name: 'run-' + url.searchParams.get('run_id'), experiment_id: '1', status: 'FINISHED' }, data: { metrics: [{ key: 'val_accuracy', value: 0.9, step: 0, timestamp: 0 }] } } }],
      'POST /api/2.0/mlflow/registered-models/alias': ({ body }) => {
        champion = (body as { version: string }).version;
        return [200, {}];
      },
    });
    render(<Model name="fingers" />);
    const select = (await screen.findByLabelText('Version for @champion')) as HTMLSelectElement;
    await screen.findByText('run-r1');
    expect(screen.getByTestId('versions').textContent).toMatch(/val_accuracy/);
    fireEvent.change(select, { target: { value: '1' } });
    await waitFor(() => expect(calls.some((c) => c.method === 'POST')).toBe(true));
    expect(calls.find((c) => c.method === 'POST')!.body).toEqual({ name: 'fingers', alias: 'champion', version: '1' });
    await waitFor(() => expect(calls.filter((c) => c.url.pathname.endsWith('registered-models/get')).length).toBe(2));
  });

  test('a reserved alias is refused before any call', async () => {
    const calls = mockFetch({
      'GET /api/2.0/mlflow/registered-models/get': () => [200, { registered_model: { name: 'm', creation_timestamp: 1 } }],
      'GET /api/2.0/mlflow/model-versions/search': () => [200, { model_versions: [{ name: 'm', version: '1', creation_timestamp: 1 }] }],
    });
    render(<Model name="m" />);
    const input = await screen.findByLabelText('New alias');
    await screen.findByText('v1', { selector: 'strong' });
    fireEvent.input(input, { target: { value: 'latest' } });
    fireEvent.submit(input.closest('form')!);
    expect((await screen.findByRole('alert')).textContent).toMatch(/reserved/);
    expect(calls.some((c) => c.method === 'POST')).toBe(false);
  });
});
