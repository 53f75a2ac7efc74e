import { describe, expect, test } from 'vitest';
import { ApiError, errorMessage, mlflow, qs, serve, serveURL } from './api';
import { mockFetch } from './test/fetch';

describe('api', () => {
  test('query strings repeat lists and drop empty values', () => {
    expect(qs({ run_ids: ['a', 'b'], metric_key: 'loss', x: '', y: undefined })).toBe('?run_ids=a&run_ids=b&metric_key=loss');
  });

  test('error messages: MLflow, serving and plain text', () => {
    expect(errorMessage({ error_code: 'INVALID_PARAMETER_VALUE', message: 'bad filter' }, 400)).toBe('bad filter');
    expect(errorMessage({ error: 'field "Age": expected a number, got a string' }, 400)).toBe('field "Age": expected a number, got a string');
    expect(errorMessage('upstream down', 502)).toBe('upstream down');
    expect(errorMessage(undefined, 503, 'Service Unavailable')).toBe('503 Service Unavailable');
  });

  test('a failed call throws the server message with status and code', async () => {
    mockFetch({ 'POST /api/2.0/mlflow/runs/search': () => [400, { error_code: 'INVALID_PARAMETER_VALUE', message: "expected a comparison operator at position 20" }] });
    const err = await mlflow.searchRuns({ experiment_ids: ['1'], filter: 'x' }).catch((e) => e);
    expect(err).toBeInstanceOf(ApiError);
    expect(err.status).toBe(400);
    expect(err.code).toBe('INVALID_PARAMETER_VALUE');
    expect(err.message).toMatch(/comparison operator/);
  });

  test('serving endpoints follow the contract', async () => {
    const calls = mockFetch({
      'POST /serve/fingers/': () => [200, { fingers: 3, class: '3', confidence: 0.97, probabilities: { '3': 0.97 } }],
      'POST /serve/titanic/predict': () => [200, { Survived: 0, probability: 0.12 }],
    });
    const d = { name: 'fingers', model_uri: 'models:/fingers@champion', state: 'READY', url: '/serve/fingers' };
    expect(serveURL(d)).toBe('/serve/fingers/');
    expect((await serve.image(d, 'data:image/png;base64,AAAA')).fingers).toBe(3);
    expect(calls[0].body).toEqual({ image: 'data:image/png;base64,AAAA' });
    await serve.table({ name: 'titanic', model_uri: '', state: 'READY' }, { Pclass: 3 });
    expect(calls[1].url.pathname).toBe('/serve/titanic/predict');
  });
});
