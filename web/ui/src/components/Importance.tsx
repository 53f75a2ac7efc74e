// The permutation importance a table model's training logs
// (evaluation/importance.json): how much validation accuracy drops when one
// input column's values are shuffled, largest first.
import { artifactURL, mlflow } from '../api';
import { fmtNumber } from '../format';
import { useAsync } from '../hooks';

export const importancePath = 'evaluation/importance.json';

export interface ImportanceReport {
  split: string;
  count: number;
  accuracy: number;
  repeats: number;
  features: { name: string; drop: number; std: number }[];
}

/** loadImportance fetches a run's importance report; undefined when the run has none. */
export async function loadImportance(runId: string, signal?: AbortSignal): Promise<ImportanceReport | undefined> {
  // List first, so a run without a report costs no failed request (which a
  // browser would log as an error).
  const dir = await mlflow.listArtifacts(runId, 'evaluation');
  if (!(dir.files ?? []).some((f) => f.path === importancePath && !f.is_dir)) return undefined;
  const res = await fetch(artifactURL(runId, importancePath), { signal });
  if (!res.ok) throw new Error(`${importancePath}: HTTP ${res.status}`);
  const body = (await res.json()) as Partial<ImportanceReport>;
  if (!Array.isArray(body.features)) throw new Error(`${importancePath}: no features list`);
  return body as ImportanceReport;
}

/** Importance shows the top columns as bars; nothing when the run logged no report. */
export function Importance({ runId, top = 12 }: { runId: string; top?: number }) {
  const rep = useAsync((s) => loadImportance(runId, s), [runId]);
  if (rep.error) {
    return (
      <div class="panel">
        <p class="panel-body muted" role="alert">
          Could not read the feature importance: {rep.error.message}
        </p>
      </div>
    );
  }
  const r = rep.data;
  if (!r) return null;
  const shown = r.features.slice(0, top);
  const most = Math.max(1e-9, ...shown.map((f) => f.drop));
  return (
    <div class="panel" data-testid="importance">
      <div class="panel-head">
        <h2>Feature importance</h2>
        <span class="muted small">
          accuracy drop when a column is shuffled ({r.repeats}×) · {r.split}, {fmtNumber(r.count)} rows, accuracy {fmtNumber(r.accuracy)}
        </span>
      </div>
      <table class="data">
        <tbody>
          {shown.map((f) => (
            <tr key={f.name}>
              <td class="mono">{f.name}</td>
              <td style={{ width: '45%' }}>
                <div class="meter" title={`${fmtNumber(f.drop)} ± ${fmtNumber(f.std)}`}>
                  <div style={{ width: `${Math.max(0, (100 * f.drop) / most).toFixed(1)}%` }} />
                </div>
              </td>
              <td class="mono num">
                {fmtNumber(f.drop)} <span class="faint">± {fmtNumber(f.std)}</span>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      {r.features.length > shown.length && (
        <p class="panel-body muted small">
          {r.features.length - shown.length} more in <a href={artifactURL(runId, importancePath)}>{importancePath}</a>
        </p>
      )}
    </div>
  );
}
