// VirtualTable renders only the rows in view, so 10,000 rows scroll as
// smoothly as 10; it asks for more rows when the view nears the end.
import type { ComponentChildren } from 'preact';
import { useEffect, useLayoutEffect, useRef, useState } from 'preact/hooks';

export interface Column {
  id: string;
  label: ComponentChildren;
  title?: string;
  width: number;
  num?: boolean;
  sortable?: boolean;
  /** Pinned columns (the first ones) stay in view when the table scrolls sideways. */
  pinned?: boolean;
}

export interface VirtualTableProps {
  columns: Column[];
  rowCount: number;
  rowHeight?: number;
  cell: (row: number, col: Column) => ComponentChildren;
  rowKey: (row: number) => string;
  rowClass?: (row: number) => string;
  sort?: { id: string; desc: boolean } | null;
  onSort?: (col: Column) => void;
  /** onNearEnd is called when fewer than a screenful of rows remain below the view. */
  onNearEnd?: () => void;
  overscan?: number;
  height?: string;
  /** id of the scrolling box, for a skip link to focus. */
  id?: string;
}

/** visibleRange is the first and last row to render for a scroll position (overscan included). */
export function visibleRange(scrollTop: number, viewHeight: number, rowHeight: number, rowCount: number, overscan: number): [number, number] {
  const first = Math.max(0, Math.floor(scrollTop / rowHeight) - overscan);
  const last = Math.min(rowCount - 1, Math.ceil((scrollTop + viewHeight) / rowHeight) + overscan);
  return [first, last];
}

export function VirtualTable(p: VirtualTableProps) {
  const rowHeight = p.rowHeight ?? 34;
  const overscan = p.overscan ?? 8;
  const box = useRef<HTMLDivElement>(null);
  const [view, setView] = useState({ top: 0, height: 600 });
  const frame = useRef(0);

  useLayoutEffect(() => {
    const el = box.current;
    if (!el) return;
    const measure = () => setView({ top: el.scrollTop, height: el.clientHeight || 600 });
    measure();
    const ro = typeof ResizeObserver !== 'undefined' ? new ResizeObserver(measure) : null;
    ro?.observe(el);
    return () => ro?.disconnect();
  }, []);

  const onScroll = () => {
    if (frame.current) return;
    frame.current = requestAnimationFrame(() => {
      frame.current = 0;
      const el = box.current;
      if (el) setView({ top: el.scrollTop, height: el.clientHeight || 600 });
    });
  };
  useEffect(() => () => cancelAnimationFrame(frame.current), []);

  const [first, last] = visibleRange(view.top, view.height, rowHeight, p.rowCount, overscan);
  const nearEnd = p.rowCount > 0 && last >= p.rowCount - 1 - Math.ceil(view.height / rowHeight);
  useEffect(() => {
    if (nearEnd) p.onNearEnd?.();
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [nearEnd, p.rowCount]);

  const width = p.columns.reduce((w, c) => w + c.width, 0);
  // A pinned column sticks at the sum of the pinned widths before it.
  const lefts: (number | undefined)[] = [];
  let pinnedWidth = 0;
  for (const c of p.columns) {
    lefts.push(c.pinned ? pinnedWidth : undefined);
    if (c.pinned) pinnedWidth += c.width;
  }
  const cellStyle = (c: Column, k: number) => (lefts[k] === undefined ? { width: `${c.width}px` } : { width: `${c.width}px`, left: `${lefts[k]}px` });
  const cellClass = (c: Column) => 'cell' + (c.num ? ' num' : '') + (c.pinned ? ' pinned' : '');
  const rows = [];
  for (let i = first; i <= last; i++) {
    rows.push(
      <div key={p.rowKey(i)} class={'vrow ' + (p.rowClass?.(i) ?? '')} style={{ top: `${i * rowHeight}px`, height: `${rowHeight}px`, minWidth: `${width}px` }} role="row" aria-rowindex={i + 2}>
        {p.columns.map((c, k) => (
          <div key={c.id} class={cellClass(c)} style={cellStyle(c, k)} role="cell">
            {p.cell(i, c)}
          </div>
        ))}
      </div>,
    );
  }
  return (
    <div class="vtable" id={p.id} tabIndex={-1} ref={box} onScroll={onScroll} role="table" aria-rowcount={p.rowCount + 1} style={{ height: p.height ?? `${p.rowCount * rowHeight + 40}px` }} data-testid="runs-table">
      <div class="vhead" role="row" style={{ minWidth: `${width}px` }}>
        {p.columns.map((c, k) => {
          const sorted = p.sort?.id === c.id;
          return (
            <div
              key={c.id}
              class={cellClass(c) + (c.sortable ? ' sortable' : '')}
              style={cellStyle(c, k)}
              title={c.title ?? (c.sortable ? 'Sort' : undefined)}
              role="columnheader"
              aria-sort={sorted ? (p.sort!.desc ? 'descending' : 'ascending') : undefined}
              tabIndex={c.sortable ? 0 : undefined}
              onClick={() => c.sortable && p.onSort?.(c)}
              onKeyDown={(e) => {
                if (c.sortable && (e.key === 'Enter' || e.key === ' ')) {
                  e.preventDefault();
                  p.onSort?.(c);
                }
              }}
            >
              {c.label}
              {sorted && <span aria-hidden="true">{p.sort!.desc ? ' ↓' : ' ↑'}</span>}
            </div>
          );
        })}
      </div>
      <div class="vbody" style={{ height: `${p.rowCount * rowHeight}px`, minWidth: `${width}px` }}>
        {rows}
      </div>
    </div>
  );
}
