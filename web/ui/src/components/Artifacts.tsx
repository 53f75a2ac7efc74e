// Artifacts browses a run's artifact tree and previews images, text and JSON.
import { useEffect, useState } from 'preact/hooks';
import { artifactURL, mlflow, type FileInfo } from '../api';
import { fmtBytes } from '../format';
import { useAsync } from '../hooks';
import { setQuery } from '../router';
import { Empty, ErrorBox, Loading } from './ui';

const imageExt = /\.(png|jpe?g|gif|webp|bmp|svg)$/i;
const textExt = /\.(txt|log|err|out|csv|tsv|md|rst|py|yaml|yml|toml|ini|cfg|conf|xml|sh|r|sql|html?)$/i;
const textNames = /(^|\/)(MLmodel|MLproject|requirements\.txt|conda\.yaml|Dockerfile|LICENSE|README)$/;
const MAX_PREVIEW = 1 << 20;

export type PreviewKind = 'image' | 'json' | 'text' | 'none';

/** previewKind decides how a file shows, by its name. */
export function previewKind(path: string): PreviewKind {
  if (imageExt.test(path)) return 'image';
  if (/\.(json|jsonl|ipynb)$/i.test(path)) return 'json';
  if (textExt.test(path) || textNames.test(path)) return 'text';
  return 'none';
}

/** prettyJSON indents JSON, keeping a list of plain values on one line when it fits (a confusion matrix row,
 * a curve) rather than one number per line; anything that does not parse comes back as it was. */
export function prettyJSON(text: string): string {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return text;
  }
  const out = (x: unknown, indent: string): string => {
    if (Array.isArray(x)) {
      if (x.length === 0) return '[]';
      if (x.every((e) => e === null || typeof e !== 'object')) {
        const flat = '[' + x.map((e) => JSON.stringify(e)).join(', ') + ']';
        if (flat.length + indent.length <= 120) return flat;
      }
      const inner = indent + '  ';
      return '[\n' + x.map((e) => inner + out(e, inner)).join(',\n') + '\n' + indent + ']';
    }
    if (x && typeof x === 'object') {
      const entries = Object.entries(x as Record<string, unknown>);
      if (entries.length === 0) return '{}';
      const inner = indent + '  ';
      return '{\n' + entries.map(([k, e]) => inner + JSON.stringify(k) + ': ' + out(e, inner)).join(',\n') + '\n' + indent + '}';
    }
    return JSON.stringify(x);
  };
  return out(v, '');
}

export function Artifacts({ runId, selected }: { runId: string; selected: string }) {
  const root = useAsync(() => mlflow.listArtifacts(runId, ''), [runId]);
  if (root.error) return <ErrorBox error={root.error} what="Could not list artifacts" />;
  if (!root.data) return <Loading what="Listing artifacts" />;
  const files = root.data.files ?? [];
  if (files.length === 0) {
    return (
      <Empty title="This run has no artifacts">
        <p>
          Files a run logs (<code>mlflow.log_artifact</code>, a model package, evaluation plots) show up here, with previews of images, text and JSON.
        </p>
      </Empty>
    );
  }
  const pick = (p: string) => setQuery({ path: p });
  return (
    <div class="artifacts" data-testid="artifacts">
      <div class="tree" role="tree">
        {sortFiles(files).map((f) => (
          <Node key={f.path} runId={runId} file={f} depth={0} selected={selected} onPick={pick} />
        ))}
      </div>
      <div class="preview">{selected ? <Preview runId={runId} path={selected} /> : <p class="muted">Choose a file to preview it.</p>}</div>
    </div>
  );
}

const sortFiles = (fs: FileInfo[]) => [...fs].sort((a, b) => Number(!!b.is_dir) - Number(!!a.is_dir) || a.path.localeCompare(b.path));
const baseName = (p: string) => p.split('/').pop() || p;

function Node({ runId, file, depth, selected, onPick }: { runId: string; file: FileInfo; depth: number; selected: string; onPick: (p: string) => void }) {
  const inside = selected.startsWith(file.path + '/');
  const [open, setOpen] = useState(inside);
  useEffect(() => {
    if (inside) setOpen(true);
  }, [inside]);
  const pad = { paddingLeft: `${12 + depth * 16}px` };
  if (!file.is_dir) {
    return (
      <button class={selected === file.path ? 'active' : ''} style={pad} onClick={() => onPick(file.path)} role="treeitem" title={file.path}>
        <span style={{ width: '10px' }} />
        <Icon kind={previewKind(file.path) === 'image' ? 'image' : 'file'} />
        <span>{baseName(file.path)}</span>
        <span class="size">{fmtBytes(file.file_size)}</span>
      </button>
    );
  }
  return (
    <>
      <button style={pad} onClick={() => setOpen(!open)} role="treeitem" aria-expanded={open} title={file.path}>
        <span aria-hidden="true" class="faint" style={{ width: '10px' }}>{open ? '▾' : '▸'}</span>
        <Icon kind="folder" />
        <span>{baseName(file.path)}/</span>
      </button>
      {open && <Children runId={runId} dir={file.path} depth={depth + 1} selected={selected} onPick={onPick} />}
    </>
  );
}

const icons = {
  file: 'M4 1.5h5l3 3v10H4z M9 1.5v3h3',
  image: 'M2.5 3h11v10h-11z M2.5 11l3.5-3.5 3 3 2-2 2.5 2.5 M10.5 6.2a.8.8 0 1 0 .01 0',
  folder: 'M1.5 4h4.5l1.5 1.5h7v7.5h-13z',
};

function Icon({ kind }: { kind: keyof typeof icons }) {
  return (
    <svg class="icon" viewBox="0 0 16 16" aria-hidden="true">
      <path d={icons[kind]} />
    </svg>
  );
}

function Children({ runId, dir, depth, selected, onPick }: { runId: string; dir: string; depth: number; selected: string; onPick: (p: string) => void }) {
  const list = useAsync(() => mlflow.listArtifacts(runId, dir), [runId, dir]);
  if (list.error) return <div class="error-box small">{list.error.message}</div>;
  if (!list.data) return <div class="faint small" style={{ paddingLeft: `${12 + depth * 16}px` }}>…</div>;
  const files = list.data.files ?? [];
  if (files.length === 0) return <div class="faint small" style={{ paddingLeft: `${12 + depth * 16}px` }}>empty</div>;
  return (
    <>
      {sortFiles(files).map((f) => (
        <Node key={f.path} runId={runId} file={f} depth={depth} selected={selected} onPick={onPick} />
      ))}
    </>
  );
}

/** readStart reads at most max bytes of a response body, then stops the download. */
export async function readStart(res: Response, max: number): Promise<{ body: string; cut: boolean }> {
  if (!res.body) {
    const t = await res.text();
    return { body: t.slice(0, max), cut: t.length > max };
  }
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let n = 0;
  let cut = false;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    chunks.push(value);
    n += value.length;
    if (n >= max) {
      cut = n > max || Number(res.headers.get('Content-Length')) > max;
      await reader.cancel();
      break;
    }
  }
  const all = new Uint8Array(Math.min(n, max));
  let off = 0;
  for (const c of chunks) {
    const part = c.subarray(0, all.length - off);
    all.set(part, off);
    off += part.length;
    if (off >= all.length) break;
  }
  return { body: new TextDecoder().decode(all), cut };
}

function Preview({ runId, path }: { runId: string; path: string }) {
  const url = artifactURL(runId, path);
  const kind = previewKind(path);
  const [imgError, setImgError] = useState(false);
  useEffect(() => setImgError(false), [url]);
  const text = useAsync(
    async (signal) => {
      if (kind !== 'json' && kind !== 'text') return null;
      const res = await fetch(url, { signal });
      if (!res.ok) {
        const body = await res.text();
        let msg = `${res.status} ${res.statusText}`;
        try {
          msg = JSON.parse(body).message || msg;
        } catch {
          /* not JSON */
        }
        throw new Error(msg);
      }
      const { body, cut } = await readStart(res, MAX_PREVIEW);
      return { body: kind === 'json' && !cut ? prettyJSON(body) : body, cut };
    },
    [url, kind],
  );
  return (
    <div data-testid="preview" data-kind={kind}>
      <div class="row" style={{ marginBottom: '10px' }}>
        <h3 class="mono grow" style={{ margin: '0', wordBreak: 'break-all' }}>
          {path}
        </h3>
        <a class="button small" href={url} download={baseName(path)}>
          Download
        </a>
      </div>
      {kind === 'image' &&
        (imgError ? <div class="error-box">The image could not be loaded or decoded.</div> : <img src={url} alt={path} onError={() => setImgError(true)} />)}
      {(kind === 'json' || kind === 'text') &&
        (text.error ? (
          <ErrorBox error={text.error} what="Could not read the file" />
        ) : !text.data ? (
          <Loading what="Reading" />
        ) : (
          <>
            <pre class="block" data-testid="text-preview">
              {text.data.body}
            </pre>
            {text.data.cut && <p class="muted small">Showing the first {fmtBytes(MAX_PREVIEW)}; download the file for all of it.</p>}
          </>
        ))}
      {kind === 'none' && <p class="muted">No preview for this kind of file. Download it to open it.</p>}
    </div>
  );
}
