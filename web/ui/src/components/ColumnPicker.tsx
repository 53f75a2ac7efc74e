// ColumnPicker chooses which attributes, metrics, params and tags the runs table shows.
import { useEffect, useRef, useState } from 'preact/hooks';
import type { KeySets, ColumnId } from '../runs';
import { attributeColumns } from '../runs';

export function ColumnPicker({ keys, value, onChange, onReset }: { keys: KeySets; value: ColumnId[]; onChange: (v: ColumnId[]) => void; onReset: () => void }) {
  const [open, setOpen] = useState(false);
  const [q, setQ] = useState('');
  const wrap = useRef<HTMLDivElement>(null);
  useEffect(() => {
    if (!open) return;
    const close = (e: MouseEvent) => {
      if (wrap.current && !wrap.current.contains(e.target as Node)) setOpen(false);
    };
    const esc = (e: KeyboardEvent) => e.key === 'Escape' && setOpen(false);
    document.addEventListener('mousedown', close);
    document.addEventListener('keydown', esc);
    return () => {
      document.removeEventListener('mousedown', close);
      document.removeEventListener('keydown', esc);
    };
  }, [open]);

  const on = new Set(value);
  const flip = (id: ColumnId) => onChange(on.has(id) ? value.filter((v) => v !== id) : [...value, id]);
  const groups: [string, { id: ColumnId; label: string }[]][] = [
    ['Attributes', attributeColumns.filter((a) => a.id !== 'name').map((a) => ({ id: a.id, label: a.label }))],
    ['Metrics', keys.metrics.map((k) => ({ id: 'm:' + k, label: k }))],
    ['Params', keys.params.map((k) => ({ id: 'p:' + k, label: k }))],
    ['Tags', keys.tags.map((k) => ({ id: 't:' + k, label: k }))],
  ];
  const match = (l: string) => !q || l.toLowerCase().includes(q.toLowerCase());
  return (
    <div class="popover-wrap" ref={wrap}>
      <button onClick={() => setOpen(!open)} aria-expanded={open} aria-haspopup="true">
        Columns ({value.length - 1})
      </button>
      {open && (
        <div class="popover" role="dialog" aria-label="Choose columns">
          <input type="search" placeholder="Find a column" value={q} onInput={(e) => setQ(e.currentTarget.value)} autoFocus />
          <div class="list">
            {groups.map(([g, items]) => {
              const shown = items.filter((i) => match(i.label));
              if (shown.length === 0) return null;
              return (
                <div key={g}>
                  <div class="group">{g}</div>
                  {shown.map((i) => (
                    <label key={i.id}>
                      <input type="checkbox" checked={on.has(i.id)} onChange={() => flip(i.id)} />
                      <span class={g === 'Attributes' ? '' : 'mono small'}>{i.label}</span>
                    </label>
                  ))}
                </div>
              );
            })}
          </div>
          <div class="row" style={{ padding: '10px', borderTop: '1px solid var(--border)' }}>
            <button class="small" onClick={onReset}>
              Default columns
            </button>
            <span class="grow" />
            <button class="small primary" onClick={() => setOpen(false)}>
              Done
            </button>
          </div>
        </div>
      )}
    </div>
  );
}
