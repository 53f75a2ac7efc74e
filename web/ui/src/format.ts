// Formatting of times, durations, numbers and sizes for display.

/** fmtNumber shows a metric value with up to 4 significant digits (more for large integers). */
/** runIdPattern finds tracking run IDs (32 hex digits) in text such as a task log. */
const runIdPattern = /\b[0-9a-f]{32}\b/g;

/** splitRunIds cuts text into plain strings and the run IDs in it, so the IDs can become links. */
export function splitRunIds(text: string): (string | { run: string })[] {
  const out: (string | { run: string })[] = [];
  let last = 0;
  for (const m of text.matchAll(runIdPattern)) {
    if (m.index > last) out.push(text.slice(last, m.index));
    out.push({ run: m[0] });
    last = m.index + m[0].length;
  }
  if (last < text.length) out.push(text.slice(last));
  return out;
}

/** breakable lets a long key (best_val_accuracy, cairn.tune.trial_step) wrap after _ . / - instead of mid-word. */
export function breakable(key: string): (string | null)[] {
  const parts = key.split(/(?<=[_./-])/);
  const out: (string | null)[] = [];
  parts.forEach((p, i) => {
    if (i > 0) out.push(null); // a <wbr>
    out.push(p);
  });
  return out;
}

export function fmtNumber(v: number | undefined | null): string {
  if (v === undefined || v === null) return '';
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return '∞';
  if (v === -Infinity) return '-∞';
  if (Number.isInteger(v) && Math.abs(v) < 1e15) return v.toLocaleString('en-US');
  const a = Math.abs(v);
  if (a !== 0 && (a < 1e-3 || a >= 1e6)) return v.toExponential(3);
  return String(Number(v.toPrecision(4)));
}

/** fmtTime is an absolute local date and time. */
export function fmtTime(ms: number | undefined | null): string {
  if (!ms) return '';
  const d = new Date(Number(ms));
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

/** fmtAgo is a relative time such as "3 min ago". */
export function fmtAgo(ms: number | undefined | null, now = Date.now()): string {
  if (!ms) return '';
  const s = Math.round((now - Number(ms)) / 1000);
  if (s < 0) return 'just now';
  if (s < 45) return `${s}s ago`;
  const m = Math.round(s / 60);
  if (m < 60) return `${m} min ago`;
  const h = Math.round(m / 60);
  if (h < 24) return `${h} h ago`;
  const d = Math.round(h / 24);
  if (d < 30) return `${d} d ago`;
  return fmtTime(ms).slice(0, 10);
}

/** fmtDuration is a compact duration such as "1m 05s"; end defaults to now. */
export function fmtDuration(start: number | undefined | null, end?: number | null, now = Date.now()): string {
  if (!start) return '';
  const ms = Math.max(0, Number(end || now) - Number(start));
  if (ms < 1000) return `${ms} ms`;
  const s = Math.floor(ms / 1000);
  if (s < 60) return `${(ms / 1000).toFixed(1)}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m ${String(s % 60).padStart(2, '0')}s`;
  const h = Math.floor(m / 60);
  return `${h}h ${String(m % 60).padStart(2, '0')}m`;
}

/** fmtBytes is a size such as "12.3 KB". */
export function fmtBytes(n: number | string | undefined | null): string {
  if (n === undefined || n === null || n === '') return '';
  let v = Number(n);
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return i === 0 ? `${v} B` : `${v.toFixed(v < 10 ? 1 : 0)} ${units[i]}`;
}

/** fmtPercent shows a probability as a percentage. */
export function fmtPercent(p: number): string {
  const v = p * 100;
  return (v >= 99.95 || v < 0.05 ? v.toFixed(0) : v < 10 ? v.toFixed(1) : v.toFixed(0)) + '%';
}

/** shortId is the first 8 characters of an ID. */
export const shortId = (id: string) => id.slice(0, 8);
