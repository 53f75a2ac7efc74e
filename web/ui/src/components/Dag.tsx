// Dag draws a pipeline graph as SVG: one box per task (or for_each item),
// coloured by phase, with arrows from needs.
import { useMemo } from 'preact/hooks';
import { layout, type Graph } from '../dag';
import { fmtDuration } from '../format';

const clip = (s: string, n: number) => (s.length > n ? s.slice(0, n - 1) + '…' : s);

function curve(pts: { x: number; y: number }[]): string {
  if (pts.length === 0) return '';
  let d = `M${pts[0].x},${pts[0].y}`;
  if (pts.length === 2) return d + ` L${pts[1].x},${pts[1].y}`;
  for (let i = 1; i < pts.length - 1; i++) {
    const mx = (pts[i].x + pts[i + 1].x) / 2;
    const my = (pts[i].y + pts[i + 1].y) / 2;
    d += ` Q${pts[i].x},${pts[i].y} ${i === pts.length - 2 ? pts[i + 1].x : mx},${i === pts.length - 2 ? pts[i + 1].y : my}`;
  }
  return d;
}

export function Dag({ graph, selected, onSelect }: { graph: Graph; selected?: string; onSelect?: (id: string) => void }) {
  // Lay out again only when the shape changes, not on every phase update.
  const shape = graph.nodes.map((n) => n.id).join('|') + '#' + graph.edges.map((e) => e.from + '>' + e.to).join('|');
  const placed = useMemo(() => layout(graph), [shape]);
  const byId = new Map(graph.nodes.map((n) => [n.id, n]));
  if (graph.nodes.length === 0) return <p class="muted panel-body">This pipeline has no tasks.</p>;
  return (
    <div class="dag" data-testid="dag">
      {/* role group, not img: an img hides its tasks from screen readers and the keyboard. */}
      <svg width={placed.width} height={placed.height} viewBox={`0 0 ${placed.width} ${placed.height}`} role="group" aria-label="Pipeline graph">
        <defs>
          <marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse">
            <path d="M 0 0 L 10 5 L 0 10 z" />
          </marker>
        </defs>
        {placed.edges.map((e) => (
          <path key={e.from + '>' + e.to} class="edge" d={curve(e.points)} marker-end="url(#arrow)" />
        ))}
        {placed.nodes.map((p) => {
          const n = byId.get(p.id) ?? p;
          const phase = n.run?.phase ?? 'Pending';
          const detail = n.run
            ? [phase, n.run.cached ? 'cached' : '', n.run.attempts > 1 ? `${n.run.attempts} attempts` : '', n.run.start_time ? fmtDuration(n.run.start_time, n.run.end_time || null) : '']
                .filter(Boolean)
                .join(' · ')
            : 'not run';
          return (
            <g
              key={p.id}
              class={`node phase-${phase}` + (selected === p.id ? ' selected' : '')}
              transform={`translate(${p.x},${p.y})`}
              onClick={() => onSelect?.(p.id)}
              data-node={p.id}
              data-phase={phase}
              // SVG takes the attribute lowercase: Preact sets tabIndex as written, which SVG ignores.
              tabindex={0}
              role="button"
              // No aria-label: the <title> names the task in full (and shows as its tooltip).
              onKeyDown={(e) => (e.key === 'Enter' || e.key === ' ') && onSelect?.(p.id)}
            >
              <title>{`${p.label}${n.sub ? ' (' + n.sub + ')' : ''}: ${detail}${n.run?.message ? '\n' + n.run.message : ''}`}</title>
              <rect class="box" width={p.w} height={p.h} rx="7" />
              <rect class="bar" width="6" height={p.h} rx="3" />
              <text x="16" y="20" font-weight="600">
                {clip(n.sub ? `${n.task} · ${n.sub}` : p.label, 24)}
              </text>
              <text class="sub" x="16" y="37">
                {clip(detail, 30)}
              </text>
            </g>
          );
        })}
      </svg>
    </div>
  );
}
