// Small shared pieces: empty, error and loading states, badges, tabs, toasts.
import type { ComponentChildren } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { ApiError } from '../api';
import { Link } from '../router';

export function Empty({ title, children }: { title: string; children?: ComponentChildren }) {
  return (
    <div class="empty" data-testid="empty">
      <h2>{title}</h2>
      {children}
    </div>
  );
}

/** ErrorBox shows what went wrong, in the server's words when it gave some. */
export function ErrorBox({ error, what }: { error: unknown; what?: string }) {
  if (!error) return null;
  const e = error as Error;
  let msg = e.message || String(error);
  if (e instanceof ApiError && e.status === 401) msg = 'This server needs credentials (cairn server --auth): ' + msg;
  return (
    <div class="error-box" role="alert">
      {what && <strong>{what}:</strong>}
      {msg}
    </div>
  );
}

export function Loading({ what = 'Loading' }: { what?: string }) {
  return (
    <div class="loading" aria-busy="true">
      <span class="spinner" />
      {what}…
    </div>
  );
}

const statusClass: Record<string, string> = {
  FINISHED: 'ok',
  Succeeded: 'ok',
  READY: 'ok',
  FAILED: 'fail',
  Failed: 'fail',
  Cancelled: 'warn',
  KILLED: 'fail',
  RUNNING: 'run',
  Running: 'run',
  LOADING: 'run',
  SCHEDULED: 'warn',
  Pending: '',
  Skipped: 'warn',
  Omitted: '',
};

/** Status is a run status, a task phase or a deployment state as a coloured badge. */
export function Status({ value, title }: { value: string; title?: string }) {
  const label = value.length > 2 && value === value.toUpperCase() ? value[0] + value.slice(1).toLowerCase() : value;
  return (
    <span class={'badge ' + (statusClass[value] ?? '')} title={title} data-status={value}>
      {label}
    </span>
  );
}

export function Alias({ name }: { name: string }) {
  return <span class="badge alias">{name}</span>;
}

export function Tabs({ tabs, active, href }: { tabs: { id: string; label: string; count?: number }[]; active: string; href: (id: string) => string }) {
  return (
    <nav class="tabs" role="tablist">
      {tabs.map((t) => (
        <Link key={t.id} href={href(t.id)} class={t.id === active ? 'active' : ''} role="tab" aria-selected={t.id === active}>
          {t.label}
          {t.count !== undefined && <span class="count">{t.count}</span>}
        </Link>
      ))}
    </nav>
  );
}

export function Crumbs({ items }: { items: [string, string?][] }) {
  return (
    <div class="crumbs">
      {items.map(([label, href], i) => (
        <span key={i}>
          {i > 0 && <span class="sep">/</span>}
          {href ? <Link href={href}>{label}</Link> : label}
        </span>
      ))}
    </div>
  );
}

// ---------------------------------------------------------------- toasts

type Toast = { id: number; text: string; error?: boolean };
let toasts: Toast[] = [];
let nextId = 1;
const toastListeners = new Set<(t: Toast[]) => void>();

/** toast shows a short message at the bottom right for a few seconds. */
export function toast(text: string, opts: { error?: boolean } = {}) {
  const t = { id: nextId++, text, error: opts.error };
  toasts = [...toasts, t];
  toastListeners.forEach((l) => l(toasts));
  setTimeout(() => {
    toasts = toasts.filter((x) => x.id !== t.id);
    toastListeners.forEach((l) => l(toasts));
  }, opts.error ? 8000 : 4000);
}

export function Toasts() {
  const [list, setList] = useState<Toast[]>(toasts);
  useEffect(() => {
    toastListeners.add(setList);
    return () => {
      toastListeners.delete(setList);
    };
  }, []);
  return (
    <div class="toast-area" aria-live="polite">
      {list.map((t) => (
        <div key={t.id} class={'toast' + (t.error ? ' error' : '')} role={t.error ? 'alert' : 'status'}>
          {t.text}
        </div>
      ))}
    </div>
  );
}

/** CopyId shows an ID in monospace; a click copies it. */
export function CopyId({ id, short = true }: { id: string; short?: boolean }) {
  return (
    <code
      class="mono"
      title={'Copy ' + id}
      style={{ cursor: 'copy' }}
      onClick={() => {
        navigator.clipboard?.writeText(id).then(
          () => toast('Copied ' + id),
          () => undefined,
        );
      }}
    >
      {short ? id.slice(0, 8) : id}
    </code>
  );
}
