// RunForm is the "run this pipeline" form, one field per typed param.
import { useState } from 'preact/hooks';
import { pipelines, type PipelineRun } from '../api';
import { coerce, formValue, type SpecParam } from '../spec';
import { ErrorBox } from './ui';

/** buildParams coerces every field; it returns the params or the errors by name. */
export function buildParams(params: SpecParam[], values: Record<string, string | boolean>): { params?: Record<string, unknown>; errors: Record<string, string> } {
  const out: Record<string, unknown> = {};
  const errors: Record<string, string> = {};
  for (const p of params) {
    const r = coerce(p, values[p.name] ?? formValue(p));
    if (r.error) errors[p.name] = r.error;
    else if (!r.omit) out[p.name] = r.value;
  }
  return Object.keys(errors).length ? { errors } : { params: out, errors };
}

/** startValues are the form's first values: the params of the run to repeat where it has them, else the defaults. */
export function startValues(params: SpecParam[], from?: Record<string, unknown>): Record<string, string | boolean> {
  return Object.fromEntries(params.map((p) => [p.name, from && p.name in from ? formValue({ ...p, default: from[p.name] }) : formValue(p)]));
}

export function RunForm({
  pipeline,
  params,
  initial,
  onStarted,
}: {
  pipeline: string;
  params: SpecParam[];
  /** A run to start from ("Run again…"): its params fill the form. */
  initial?: PipelineRun;
  onStarted: (r: PipelineRun) => void;
}) {
  const [values, setValues] = useState<Record<string, string | boolean>>(() => startValues(params, initial?.params));
  const gone = initial ? Object.keys(initial.params ?? {}).filter((k) => !params.some((p) => p.name === k)) : [];
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [busy, setBusy] = useState(false);
  const [failure, setFailure] = useState<Error | null>(null);
  const set = (k: string, v: string | boolean) => setValues({ ...values, [k]: v });

  const submit = async (e: Event) => {
    e.preventDefault();
    const b = buildParams(params, values);
    setErrors(b.errors);
    if (!b.params) return;
    setBusy(true);
    setFailure(null);
    try {
      const r = await pipelines.submit(pipeline, b.params);
      onStarted(r.run);
    } catch (err) {
      setFailure(err as Error);
    } finally {
      setBusy(false);
    }
  };

  return (
    <form onSubmit={submit} data-testid="run-form" noValidate>
      {initial && (
        <p class="hint" data-testid="run-again">
          Starting from the params of run <span class="mono">{initial.run_id.slice(0, 8)}</span>; change what you need.
          {gone.length > 0 && ` Not in the pipeline any more, so not sent: ${gone.join(', ')}.`}
        </p>
      )}
      {params.length === 0 ? (
        <p class="muted">This pipeline has no params.</p>
      ) : (
        <div class="form-grid">
          {params.map((p) => (
            <label class="field" key={p.name}>
              <span>
                {p.name} <span class="faint small mono">{p.type}</span>
                {p.default === undefined && <span class="small" style={{ color: 'var(--danger)' }}> required</span>}
              </span>
              {p.enum ? (
                <select name={p.name} value={String(values[p.name] ?? '')} aria-invalid={!!errors[p.name]} onChange={(e) => set(p.name, e.currentTarget.value)}>
                  {p.default === undefined && <option value="">choose…</option>}
                  {p.enum.map((c) => (
                    <option key={c} value={c}>
                      {c}
                    </option>
                  ))}
                </select>
              ) : p.type === 'bool' ? (
                <span class="row">
                  <input type="checkbox" name={p.name} checked={values[p.name] === true} onChange={(e) => set(p.name, e.currentTarget.checked)} />
                  <span class="muted small">{values[p.name] ? 'true' : 'false'}</span>
                </span>
              ) : (
                <input
                  name={p.name}
                  value={String(values[p.name] ?? '')}
                  inputMode={p.type === 'int' ? 'numeric' : p.type === 'float' ? 'decimal' : undefined}
                  placeholder={p.type === 'list' ? 'a, b, c' : p.default === undefined ? 'required' : ''}
                  aria-invalid={!!errors[p.name]}
                  onInput={(e) => set(p.name, e.currentTarget.value)}
                  class={p.type === 'string' || p.type === 'list' ? '' : 'mono'}
                />
              )}
              {errors[p.name] ? (
                <span class="hint" style={{ color: 'var(--danger)' }} role="alert">
                  {p.name}: {errors[p.name]}
                </span>
              ) : (
                p.description && <span class="hint">{p.description}</span>
              )}
            </label>
          ))}
        </div>
      )}
      <ErrorBox error={failure} what="The run was not started" />
      <div class="row" style={{ marginTop: '14px' }}>
        <button class="primary" type="submit" disabled={busy}>
          {busy ? 'Starting…' : 'Run pipeline'}
        </button>
        <button
          type="button"
          class="ghost"
          onClick={() => {
            setValues(Object.fromEntries(params.map((p) => [p.name, formValue(p)])));
            setErrors({});
          }}
        >
          Reset to defaults
        </button>
      </div>
    </form>
  );
}
