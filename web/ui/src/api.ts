// The HTTP APIs the UI speaks: MLflow's REST API 2.0, Cairn's pipelines API,
// the deployments API and the model endpoints. Every call goes to the page's
// own origin (cairn server serves the UI and the APIs on one port).

/** ApiError is a failed call, with the server's message when it sent one. */
export class ApiError extends Error {
  constructor(
    message: string,
    readonly status: number,
    readonly code = '',
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

type Query = Record<string, string | number | boolean | undefined | null | (string | number)[]>;

export function qs(q: Query = {}): string {
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(q)) {
    if (v === undefined || v === null || v === '') continue;
    if (Array.isArray(v)) v.forEach((x) => p.append(k, String(x)));
    else p.append(k, String(v));
  }
  const s = p.toString();
  return s ? '?' + s : '';
}

/** errorMessage turns an error body (MLflow's {message}, serving's {error}) into text. */
export function errorMessage(body: unknown, status: number, statusText = ''): string {
  if (body && typeof body === 'object') {
    const b = body as Record<string, unknown>;
    for (const k of ['message', 'error']) {
      if (typeof b[k] === 'string' && b[k]) return b[k] as string;
    }
  }
  if (typeof body === 'string' && body.trim()) return body.trim().slice(0, 300);
  if (status === 0) return 'The server did not answer: is cairn server running?';
  return `${status} ${statusText}`.trim();
}

export async function request<T>(method: string, path: string, body?: unknown, signal?: AbortSignal): Promise<T> {
  let res: Response;
  try {
    res = await fetch(path, {
      method,
      headers: body === undefined ? {} : { 'Content-Type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal,
      credentials: 'same-origin',
    });
  } catch (e) {
    if ((e as Error).name === 'AbortError') throw e;
    throw new ApiError('The server did not answer: is cairn server running?', 0);
  }
  const text = await res.text();
  let data: unknown = undefined;
  if (text) {
    try {
      data = JSON.parse(text);
    } catch {
      data = text;
    }
  }
  if (!res.ok) {
    const code = data && typeof data === 'object' ? String((data as Record<string, unknown>).error_code ?? '') : '';
    throw new ApiError(errorMessage(data, res.status, res.statusText), res.status, code);
  }
  return (data ?? {}) as T;
}

export const get = <T>(path: string, q?: Query, signal?: AbortSignal) => request<T>('GET', path + qs(q), undefined, signal);
export const post = <T>(path: string, body: unknown, signal?: AbortSignal) => request<T>('POST', path, body, signal);

// ---------------------------------------------------------------- MLflow

const M = '/api/2.0/mlflow/';

export interface KV {
  key: string;
  value: string;
}
export interface Metric {
  key: string;
  value: number | string; // "NaN", "Infinity" and "-Infinity" come as strings
  timestamp: number;
  step: number;
  run_id?: string;
}
export interface Experiment {
  experiment_id: string;
  name: string;
  artifact_location?: string;
  lifecycle_stage?: string;
  creation_time?: number;
  last_update_time?: number;
  tags?: KV[];
}
export interface RunInfo {
  run_id: string;
  run_name?: string;
  experiment_id: string;
  user_id?: string;
  status: string;
  start_time?: number;
  end_time?: number;
  artifact_uri?: string;
  lifecycle_stage?: string;
}
export interface Run {
  info: RunInfo;
  data: { metrics?: Metric[]; params?: KV[]; tags?: KV[] };
  inputs?: { dataset_inputs?: { dataset: { name: string; digest: string; source_type?: string } }[] };
}
export interface FileInfo {
  path: string;
  is_dir?: boolean;
  file_size?: number | string;
}
export interface ModelVersion {
  name: string;
  version: string;
  creation_timestamp: number;
  last_updated_timestamp?: number;
  current_stage?: string;
  description?: string;
  source?: string;
  run_id?: string;
  status?: string;
  aliases?: string[];
  tags?: KV[];
}
export interface RegisteredModel {
  name: string;
  creation_timestamp: number;
  last_updated_timestamp?: number;
  description?: string;
  latest_versions?: ModelVersion[];
  aliases?: { alias: string; version: string }[];
  tags?: KV[];
}

/** num reads a metric value; the API writes NaN and infinities as strings. */
export function num(v: number | string | undefined | null): number {
  if (typeof v === 'number') return v;
  if (v === undefined || v === null) return NaN;
  return Number(v);
}

export const mlflow = {
  searchExperiments: (filter = '', signal?: AbortSignal) =>
    post<{ experiments?: Experiment[]; next_page_token?: string }>(
      M + 'experiments/search',
      { max_results: 1000, order_by: ['last_update_time DESC'], filter: filter || undefined },
      signal,
    ),
  getExperiment: (id: string) => get<{ experiment: Experiment }>(M + 'experiments/get', { experiment_id: id }),
  searchRuns: (
    req: { experiment_ids: string[]; filter?: string; order_by?: string[]; max_results?: number; page_token?: string },
    signal?: AbortSignal,
  ) => post<{ runs?: Run[]; next_page_token?: string }>(M + 'runs/search', req, signal),
  getRun: (id: string, signal?: AbortSignal) => get<{ run: Run }>(M + 'runs/get', { run_id: id }, signal),
  /** history returns each run's values of one metric, sampled to at most maxResults steps. */
  history: (runIds: string[], key: string, maxResults = 1000, signal?: AbortSignal) =>
    get<{ metrics?: Metric[] }>(
      M + 'metrics/get-history-bulk-interval',
      { run_ids: runIds, metric_key: key, max_results: maxResults },
      signal,
    ),
  listArtifacts: (runId: string, path = '') =>
    get<{ root_uri?: string; files?: FileInfo[] }>(M + 'artifacts/list', { run_id: runId, path }),
  searchModels: (filter = '') =>
    get<{ registered_models?: RegisteredModel[] }>(M + 'registered-models/search', {
      max_results: 1000,
      filter,
      order_by: 'name ASC',
    }),
  getModel: (name: string) => get<{ registered_model: RegisteredModel }>(M + 'registered-models/get', { name }),
  searchVersions: (name: string) =>
    get<{ model_versions?: ModelVersion[] }>(M + 'model-versions/search', {
      filter: `name='${name.replace(/'/g, "\\'")}'`,
      max_results: 1000,
    }),
  setAlias: (name: string, alias: string, version: string) =>
    post<unknown>(M + 'registered-models/alias', { name, alias, version }),
  deleteAlias: (name: string, alias: string) =>
    request<unknown>('DELETE', M + 'registered-models/alias' + qs({ name, alias })),
};

/** artifactURL is where a run's artifact downloads from (the MLflow UI's own endpoint). */
export function artifactURL(runId: string, path: string): string {
  return '/get-artifact' + qs({ run_id: runId, path });
}

// ---------------------------------------------------------------- pipelines

const P = '/api/2.0/cairn/pipelines/';

export type Phase = 'Pending' | 'Running' | 'Succeeded' | 'Failed' | 'Cancelled' | 'Skipped' | 'Omitted';
export const donePhase = (p: string) => p !== 'Pending' && p !== 'Running';

export interface PipelineTask {
  node: string;
  task: string;
  item?: number;
  item_value?: string;
  phase: Phase;
  cached?: boolean;
  cached_from?: string;
  attempts: number;
  message?: string;
  tracking_run_id?: string;
  outputs?: Record<string, string>;
  exit_code: number;
  start_time?: number;
  end_time?: number;
}
export interface PipelineRun {
  run_id: string;
  pipeline: string;
  phase: Phase;
  message?: string;
  trigger?: string;
  params: Record<string, unknown>;
  experiment_id?: string;
  tracking_run_id?: string;
  cancel_requested?: boolean;
  creation_time: number;
  start_time?: number;
  end_time?: number;
  tasks?: PipelineTask[];
  /** The YAML the run ran (runs/get only). */
  spec?: string;
}
export interface Pipeline {
  name: string;
  file?: string;
  schedule?: string;
  spec?: string;
  creation_time: number;
  last_update_time: number;
  latest_run?: PipelineRun;
}

export const pipelines = {
  list: () => get<{ pipelines: Pipeline[] }>(P + 'list'),
  get: (name: string) => get<{ pipeline: Pipeline }>(P + 'get', { name }),
  runs: (q: { pipeline?: string; max_results?: number; page_token?: string } = {}) =>
    get<{ runs: PipelineRun[]; next_page_token?: string }>(P + 'runs/list', q),
  run: (id: string, signal?: AbortSignal) => get<{ run: PipelineRun }>(P + 'runs/get', { run_id: id }, signal),
  logs: (id: string, task: string, offset: number, signal?: AbortSignal) =>
    get<{ data: string; next_offset: number; phase: Phase; done: boolean }>(
      P + 'runs/logs',
      { run_id: id, task, offset },
      signal,
    ),
  submit: (pipeline: string, params: Record<string, unknown>) =>
    post<{ run: PipelineRun }>(P + 'runs/submit', { pipeline, params }),
  cancel: (id: string) => post<unknown>(P + 'runs/cancel', { run_id: id }),
  retry: (id: string) => post<{ run: PipelineRun }>(P + 'runs/retry', { run_id: id }),
};

// ---------------------------------------------------------------- serving

const D = '/api/2.0/cairn/deployments/';

export interface DeploymentInput {
  name: string;
  type: 'number' | 'category' | 'boolean' | 'date' | 'text' | string;
  optional?: boolean;
  /** A category's values in training: others read as unknown. */
  choices?: string[];
  /** A number's train range: a guide, not a limit. */
  min?: number;
  max?: number;
}
export interface Deployment {
  name: string;
  model_uri: string;
  model_name?: string;
  model_version?: string;
  state: 'READY' | 'LOADING' | 'FAILED' | string;
  kind?: 'image' | 'table' | string;
  classes?: string[];
  input_shape?: number[];
  inputs?: DeploymentInput[];
  url?: string;
  last_error?: string;
  updated_at?: number | string;
}
export interface ImagePrediction {
  fingers?: number;
  class: string;
  confidence: number;
  probabilities: Record<string, number>;
  /** With count-and-hand classes ("3L"): the hand apart, and each marginal. */
  hand?: string;
  fingers_probabilities?: Record<string, number>;
  hand_probabilities?: Record<string, number>;
  model_version?: string;
}
export interface TablePrediction {
  PassengerId?: number;
  Survived?: number;
  probability: number;
  model_version?: string;
  [k: string]: unknown;
}

export const deployments = {
  list: () => get<{ deployments?: Deployment[] }>(D + 'list'),
  get: (name: string) => get<{ deployment: Deployment }>(D + 'get', { name }),
};

/** serveURL is a deployment's base URL, ending in a slash. */
export function serveURL(d: Pick<Deployment, 'name' | 'url'>): string {
  const base = d.url || '/serve/' + encodeURIComponent(d.name);
  return base.endsWith('/') ? base : base + '/';
}

export const serve = {
  image: (d: Deployment, image: string) => post<ImagePrediction>(serveURL(d), { image }),
  table: (d: Deployment, record: Record<string, unknown>) => post<TablePrediction>(serveURL(d) + 'predict', record),
};
