import { fireEvent, render, screen, waitFor } from '@testing-library/preact';
import { describe, expect, test, vi } from 'vitest';
import { parseSpec } from '../spec';
import { mockFetch } from '../test/fetch';
import { buildParams, RunForm } from './RunForm';

const spec = parseSpec(`name: demo
params:
  lr: 0.01
  epochs: {type: int, default: 3}
  models: [cnn, mlp]
  fast: false
  data: {type: string, description: "a CSV path"}
tasks: {a: {run: echo}}
`);

describe('run form', () => {
  test('buildParams coerces each type and reports every problem', () => {
    const ok = buildParams(spec.params, { lr: '0.1', epochs: '5', models: 'cnn', fast: true, data: 'x.csv' });
    expect(ok.params).toEqual({ lr: 0.1, epochs: 5, models: ['cnn'], fast: true, data: 'x.csv' });
    const bad = buildParams(spec.params, { lr: 'fast', epochs: '1.5', data: '' });
    expect(bad.params).toBeUndefined();
    expect(bad.errors).toEqual({ lr: 'expected a number, got "fast"', epochs: 'expected a whole number, got "1.5"', data: 'required' });
  });

  test('fields from the typed params; submit posts them', async () => {
    const calls = mockFetch({ 'POST /api/2.0/cairn/pipelines/runs/submit': () => [200, { run: { run_id: 'p1', pipeline: 'demo', phase: 'Pending', params: {}, creation_time: 1 } }] });
    const started = vi.fn();
    const { container } = render(<RunForm pipeline="demo" params={spec.params} onStarted={started} />);
    expect((container.querySelector('input[name="epochs"]') as HTMLInputElement).value).toBe('3');
    expect((container.querySelector('input[name="models"]') as HTMLInputElement).value).toBe('cnn, mlp');
    expect((container.querySelector('input[name="fast"]') as HTMLInputElement).type).toBe('checkbox');
    expect(screen.getByText('a CSV path')).toBeTruthy();
    fireEvent.click(screen.getByRole('button', { name: 'Run pipeline' }));
    expect((await screen.findByRole('alert')).textContent).toMatch(/data: required/);
    expect(calls).toHaveLength(0);
    fireEvent.input(container.querySelector('input[name="data"]')!, { target: { value: 'train.csv' } });
    fireEvent.click(screen.getByRole('button', { name: 'Run pipeline' }));
    await waitFor(() => expect(started).toHaveBeenCalled());
    expect(calls[0].body).toEqual({ pipeline: 'demo', params: { lr: 0.01, epochs: 3, models: ['cnn', 'mlp'], fast: false, data: 'train.csv' } });
  });

  test("run again: the repeated run's params fill the form, not the defaults", async () => {
    const calls = mockFetch({ 'POST /api/2.0/cairn/pipelines/runs/submit': () => [200, { run: { run_id: 'p2', pipeline: 'demo', phase: 'Pending', params: {}, creation_time: 1 } }] });
    const prev = { run_id: 'abcdef1234', pipeline: 'demo', phase: 'Succeeded' as const, creation_time: 1, params: { lr: 0.5, models: ['mlp'], fast: true, data: '/real/train.csv', old: 1 } };
    const started = vi.fn();
    const { container } = render(<RunForm pipeline="demo" params={spec.params} initial={prev} onStarted={started} />);
    const value = (n: string) => (container.querySelector(`input[name="${n}"]`) as HTMLInputElement);
    expect(value('lr').value).toBe('0.5');
    expect(value('epochs').value).toBe('3'); // not in the run: the default
    expect(value('models').value).toBe('mlp');
    expect(value('fast').checked).toBe(true);
    expect(value('data').value).toBe('/real/train.csv');
    expect(screen.getByTestId('run-again').textContent).toMatch(/run abcdef12.*Not in the pipeline any more, so not sent: old/);
    fireEvent.click(screen.getByRole('button', { name: 'Run pipeline' }));
    await waitFor(() => expect(started).toHaveBeenCalled());
    expect(calls[0].body).toEqual({ pipeline: 'demo', params: { lr: 0.5, epochs: 3, models: ['mlp'], fast: true, data: '/real/train.csv' } });
    fireEvent.click(screen.getByRole('button', { name: 'Reset to defaults' }));
    expect(value('data').value).toBe('');
  });

  test('an enum param is a choice list of its values', async () => {
    const calls = mockFetch({ 'POST /api/2.0/cairn/pipelines/runs/submit': () => [200, { run: { run_id: 'p3', pipeline: 'e', phase: 'Pending', params: {}, creation_time: 1 } }] });
    const e = parseSpec('name: e\nparams:\n  scheduler: {type: string, enum: [asha, median, fifo], default: asha}\ntasks: {a: {run: x}}\n');
    const started = vi.fn();
    const { container } = render(<RunForm pipeline="e" params={e.params} onStarted={started} />);
    const sel = container.querySelector('select[name="scheduler"]') as HTMLSelectElement;
    expect([...sel.options].map((o) => o.value)).toEqual(['asha', 'median', 'fifo']);
    expect(sel.value).toBe('asha');
    fireEvent.change(sel, { target: { value: 'fifo' } });
    fireEvent.click(screen.getByRole('button', { name: 'Run pipeline' }));
    await waitFor(() => expect(started).toHaveBeenCalled());
    expect(calls[0].body).toEqual({ pipeline: 'e', params: { scheduler: 'fifo' } });
  });

  test('a server refusal is shown', async () => {
    mockFetch({ 'POST /api/2.0/cairn/pipelines/runs/submit': () => [400, { error_code: 'INVALID_PARAMETER_VALUE', message: 'pipeline demo: parameter "lr" expected a float' }] });
    const { container } = render(<RunForm pipeline="demo" params={spec.params} onStarted={() => undefined} />);
    fireEvent.input(container.querySelector('input[name="data"]')!, { target: { value: 'x' } });
    fireEvent.click(screen.getByRole('button', { name: 'Run pipeline' }));
    expect((await screen.findByRole('alert')).textContent).toMatch(/The run was not started.*expected a float/);
  });
});
