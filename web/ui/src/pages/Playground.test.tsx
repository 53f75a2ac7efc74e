import { fireEvent, render, screen, waitFor } from '@testing-library/preact';
import { describe, expect, test } from 'vitest';
import { mockFetch } from '../test/fetch';
import { buildRecord, cameraError, DeploymentPage, outcome, Playground, rangeHint, sortedProbs, titanicFields } from './Playground';

const fingers = {
  name: 'fingers', model_uri: 'models:/fingers@champion', model_name: 'fingers', model_version: '3', state: 'READY', kind: 'image',
  classes: ['0', '1', '2', '3', '4', '5'], input_shape: [32, 32, 1], url: '/serve/fingers', updated_at: 1_700_000_000_000,
};
const titanic = {
  name: 'titanic', model_uri: 'models:/titanic@champion', state: 'READY', kind: 'table', url: '/serve/titanic',
  inputs: [{ name: 'Pclass', type: 'number' }, { name: 'Sex', type: 'category' }, { name: 'Age', type: 'number', optional: true }],
};
const probs = { '0': 0.01, '1': 0.01, '2': 0.01, '3': 0.95, '4': 0.01, '5': 0.01 };

describe('playground', () => {
  test('no serving API: says so, no deployments: says how to deploy', async () => {
    mockFetch({});
    const { unmount } = render(<Playground />);
    expect((await screen.findByTestId('empty')).textContent).toMatch(/does not serve models/);
    unmount();
    mockFetch({ 'GET /api/2.0/cairn/deployments/list': () => [200, { deployments: [] }] });
    render(<Playground />);
    expect((await screen.findByTestId('empty')).textContent).toMatch(/deployments\/create/);
  });

  test('an uploaded image is sent as a data URL; the count and probabilities show', async () => {
    const calls = mockFetch({
      'GET /api/2.0/cairn/deployments/get': () => [200, { deployment: fingers }],
      'POST /serve/fingers/': () => [200, { fingers: 3, class: '3', confidence: 0.95, probabilities: probs, model_version: '3' }],
    });
    render(<DeploymentPage name="fingers" />);
    const input = (await screen.findByTestId('file')) as HTMLInputElement;
    const file = new File([new Uint8Array([137, 80, 78, 71])], 'hand.png', { type: 'image/png' });
    fireEvent.change(input, { target: { files: [file] } });
    expect((await screen.findByTestId('predicted')).textContent).toBe('3');
    expect(screen.getByText(/fingers · 95% confident/)).toBeTruthy();
    expect(screen.getByTestId('probabilities').querySelectorAll('.prob')).toHaveLength(6);
    const post = calls.find((c) => c.method === 'POST')!;
    expect((post.body as { image: string }).image).toMatch(/^data:image\/png;base64,/);
  });

  test('a model error is shown in its own words', async () => {
    mockFetch({
      'GET /api/2.0/cairn/deployments/get': () => [200, { deployment: fingers }],
      'POST /serve/fingers/': () => [400, { error: 'image: cannot decode: not a PNG or JPEG' }],
    });
    render(<DeploymentPage name="fingers" />);
    const input = (await screen.findByTestId('file')) as HTMLInputElement;
    fireEvent.change(input, { target: { files: [new File(['x'], 'x.png', { type: 'image/png' })] } });
    expect((await screen.findByRole('alert')).textContent).toBe('image: cannot decode: not a PNG or JPEG');
  });

  test('a non-image file is refused before sending', async () => {
    const calls = mockFetch({ 'GET /api/2.0/cairn/deployments/get': () => [200, { deployment: fingers }] });
    render(<DeploymentPage name="fingers" />);
    const input = (await screen.findByTestId('file')) as HTMLInputElement;
    fireEvent.change(input, { target: { files: [new File(['a,b'], 'data.csv', { type: 'text/csv' })] } });
    expect((await screen.findByRole('alert')).textContent).toMatch(/data.csv is not an image/);
    expect(calls.some((c) => c.method === 'POST')).toBe(false);
  });

  test('the table form posts one record and shows the probability', async () => {
    const calls = mockFetch({
      'GET /api/2.0/cairn/deployments/get': () => [200, { deployment: titanic }],
      'POST /serve/titanic/predict': () => [200, { Survived: 0, probability: 0.12, model_version: '1' }],
    });
    const { container } = render(<DeploymentPage name="titanic" />);
    await screen.findByTestId('table-form');
    fireEvent.input(container.querySelector('input[name="Age"]')!, { target: { value: '' } });
    fireEvent.click(screen.getByRole('button', { name: 'Predict' }));
    expect((await screen.findByTestId('probability')).textContent).toBe('12%');
    expect(screen.getByText('did not survive')).toBeTruthy();
    expect(calls.find((c) => c.method === 'POST')!.body).toEqual({ Pclass: 3, Sex: 'male' });
  });

  test('the server names the bad field', async () => {
    mockFetch({
      'GET /api/2.0/cairn/deployments/get': () => [200, { deployment: titanic }],
      'POST /serve/titanic/predict': () => [400, { error: 'field "Sex": expected male or female' }],
    });
    const { container } = render(<DeploymentPage name="titanic" />);
    await screen.findByTestId('table-form');
    fireEvent.input(container.querySelector('input[name="Sex"]')!, { target: { value: 'x' } });
    fireEvent.click(screen.getByRole('button', { name: 'Predict' }));
    await waitFor(() => expect(screen.getByRole('alert').textContent).toBe('field "Sex": expected male or female'));
  });

  test("the model's own choices and ranges guide the form; an unsure answer says so; a stale one goes", async () => {
    const guided = {
      ...titanic,
      inputs: [
        { name: 'Pclass', type: 'category', choices: ['1', '2', '3'] },
        { name: 'Sex', type: 'category', choices: ['female', 'male'] },
        { name: 'Age', type: 'number', optional: true, min: 0.42, max: 80 },
      ],
    };
    const calls = mockFetch({
      'GET /api/2.0/cairn/deployments/get': () => [200, { deployment: guided }],
      'POST /serve/titanic/predict': () => [200, { Survived: 1, probability: 0.55, model_version: '1' }],
    });
    const { container } = render(<DeploymentPage name="titanic" />);
    await screen.findByTestId('table-form');
    const sex = container.querySelector('select[name="Sex"]') as HTMLSelectElement;
    expect([...sex.options].map((o) => o.value)).toEqual(['', 'female', 'male']);
    expect(sex.value).toBe('male');
    const age = container.querySelector('input[name="Age"]') as HTMLInputElement;
    expect(age.placeholder).toBe('0.42–80');
    fireEvent.input(age, { target: { value: '200' } });
    expect(screen.getByTestId('range-Age').textContent).toMatch(/outside the training range 0.42–80/);
    fireEvent.click(screen.getByRole('button', { name: 'Predict' }));
    expect((await screen.findByTestId('probability')).textContent).toBe('55%');
    expect(screen.getByTestId('low-confidence')).toBeTruthy();
    expect(calls.find((c) => c.method === 'POST')!.body).toEqual({ Pclass: '3', Sex: 'male', Age: 200 });

    fireEvent.change(sex, { target: { value: '' } });
    fireEvent.click(screen.getByRole('button', { name: 'Predict' }));
    expect((await screen.findByRole('alert')).textContent).toBe('Sex: required');
    expect(screen.queryByTestId('probability')).toBeNull();
    expect(calls.filter((c) => c.method === 'POST')).toHaveLength(1);
  });

  test('helpers', () => {
    expect(buildRecord([{ name: 'Sex', type: 'category', choices: ['female', 'male'] }], { Sex: 'banana' }).errors).toEqual({ Sex: 'expected one of female, male, got "banana"' });
    expect(rangeHint({ name: 'Age', type: 'number', min: 1, max: 9 }, '5')).toBe('');
    expect(rangeHint({ name: 'Age', type: 'number' }, '500')).toBe('');
    expect(buildRecord(titanicFields, { Pclass: '1', Sex: 'female', SibSp: '0', Parch: '0', Age: 'old' }).errors).toEqual({ Age: 'expected a number, got "old"' });
    expect(buildRecord(titanicFields, { Pclass: '1', Sex: 'female', SibSp: '1', Parch: '0' }).record).toEqual({ Pclass: 1, Sex: 'female', SibSp: 1, Parch: 0 });
    expect(sortedProbs({ class: '10', confidence: 1, probabilities: { '10': 0.5, '2': 0.2, '1': 0.3 } }).map((p) => p[0])).toEqual(['1', '2', '10']);
    expect(outcome('Survived', true)).toBe('survived');
    expect(cameraError(Object.assign(new Error('x'), { name: 'NotAllowedError' }))).toMatch(/permission was denied|secure page/);
  });
});

describe('count-and-hand models', () => {
  test('the counts show as bars and the hand apart', async () => {
    const classes = ['0L', '0R', '1L', '1R', '2L', '2R', '3L', '3R', '4L', '4R', '5L', '5R'];
    const probabilities = Object.fromEntries(classes.map((c) => [c, c === '2R' ? 0.78 : 0.02]));
    mockFetch({
      'GET /api/2.0/cairn/deployments/get': () => [200, { deployment: { ...fingers, classes } }],
      'POST /serve/fingers/': () => [
        200,
        {
          fingers: 2, hand: 'R', class: '2R', confidence: 0.78, probabilities,
          fingers_probabilities: { '0': 0.04, '1': 0.04, '2': 0.8, '3': 0.04, '4': 0.04, '5': 0.04 },
          hand_probabilities: { L: 0.1, R: 0.9 },
        },
      ],
    });
    render(<DeploymentPage name="fingers" />);
    const input = (await screen.findByTestId('file')) as HTMLInputElement;
    fireEvent.change(input, { target: { files: [new File(['x'], 'h.png', { type: 'image/png' })] } });
    expect((await screen.findByTestId('predicted')).textContent).toBe('2');
    expect(screen.getByTestId('hand').textContent).toBe('right hand · 90%');
    expect(screen.getByText(/80% confident/)).toBeTruthy();
    expect(screen.getByTestId('probabilities').querySelectorAll('.prob')).toHaveLength(6);
  });
});
