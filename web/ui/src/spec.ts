// Reading a pipeline spec (YAML) for the UI: its typed params, for the run
// form, and its tasks' needs, for the graph.
import { parse } from 'yaml';

export type ParamType = 'string' | 'int' | 'float' | 'bool' | 'list';

export interface SpecParam {
  name: string;
  type: ParamType;
  default?: unknown; // undefined: required
  description?: string;
  /** The only values the param takes, as the form shows them (a choice list). */
  enum?: string[];
}
export interface SpecTask {
  name: string;
  needs: string[];
  forEach: boolean;
  uses?: string;
  run?: string;
  when?: string;
}
export interface Spec {
  name: string;
  description?: string;
  schedule?: string;
  params: SpecParam[];
  tasks: SpecTask[];
}

/** norm turns YAML integers (read as BigInt, to tell 1 from 1.0 as Go does) into numbers. */
function norm(v: unknown): unknown {
  if (typeof v === 'bigint') return Number(v);
  if (Array.isArray(v)) return v.map(norm);
  if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, norm(x)]));
  return v;
}

function typeOf(v: unknown): ParamType {
  if (typeof v === 'bigint') return 'int';
  if (typeof v === 'number') return 'float'; // integers come as BigInt
  if (typeof v === 'boolean') return 'bool';
  if (Array.isArray(v)) return 'list';
  return 'string';
}

const types: ParamType[] = ['string', 'int', 'float', 'bool', 'list'];

/** parseSpec reads the parts of a spec the UI needs; it throws on YAML that does not parse. */
export function parseSpec(source: string): Spec {
  const doc = parse(source, { intAsBigInt: true }) as Record<string, unknown> | null;
  if (!doc || typeof doc !== 'object') throw new Error('the spec is empty');
  const params: SpecParam[] = [];
  const ps = (doc.params ?? {}) as Record<string, unknown>;
  for (const [name, raw] of Object.entries(ps)) {
    if (raw && typeof raw === 'object' && !Array.isArray(raw)) {
      const m = raw as Record<string, unknown>;
      const t = String(m.type ?? '') as ParamType;
      const def = m.default === null ? undefined : m.default;
      params.push({
        name,
        type: types.includes(t) ? t : def === undefined ? 'string' : typeOf(def),
        default: norm(def),
        description: typeof m.description === 'string' ? m.description : undefined,
        enum: Array.isArray(m.enum) && m.enum.length > 0 ? m.enum.map((x) => String(norm(x))) : undefined,
      });
    } else {
      params.push({ name, type: typeOf(raw), default: norm(raw) });
    }
  }
  const tasks: SpecTask[] = [];
  const ts = (doc.tasks ?? {}) as Record<string, unknown>;
  for (const [name, raw] of Object.entries(ts)) {
    const t = (raw ?? {}) as Record<string, unknown>;
    const needs = Array.isArray(t.needs) ? t.needs.map(String) : typeof t.needs === 'string' ? [t.needs] : [];
    tasks.push({
      name,
      needs,
      forEach: t.for_each !== undefined,
      uses: typeof t.uses === 'string' ? t.uses : undefined,
      run: typeof t.run === 'string' ? t.run : undefined,
      when: typeof t.when === 'string' ? t.when : undefined,
    });
  }
  return {
    name: String(doc.name ?? ''),
    description: typeof doc.description === 'string' ? doc.description.trim() : undefined,
    schedule: typeof doc.schedule === 'string' ? doc.schedule : undefined,
    params,
    tasks,
  };
}

/** formValue is how a param's default shows in the run form. */
export function formValue(p: SpecParam): string | boolean {
  const d = p.default;
  if (p.type === 'bool') return d === true;
  if (d === undefined) return '';
  if (p.type === 'list') return Array.isArray(d) ? d.map((x) => (typeof x === 'string' ? x : JSON.stringify(x))).join(', ') : String(d);
  return String(d);
}

/**
 * coerce turns what the form holds into the JSON value the API expects for
 * the param's type, or an error message naming what was expected.
 */
export function coerce(p: SpecParam, v: string | boolean): { value?: unknown; error?: string; omit?: boolean } {
  if (p.type === 'bool') return { value: v === true };
  const s = String(v).trim();
  if (s === '') {
    if (p.default === undefined) return { error: 'required' };
    if (p.type === 'string' && !p.enum) return { value: '' };
    return { omit: true }; // the default applies
  }
  if (p.enum && !p.enum.includes(s)) return { error: `expected one of ${p.enum.join(', ')}, got "${s}"` };
  switch (p.type) {
    case 'int':
      return /^[-+]?\d+$/.test(s) ? { value: Number(s) } : { error: `expected a whole number, got "${s}"` };
    case 'float': {
      const n = Number(s);
      return s !== '' && Number.isFinite(n) ? { value: n } : { error: `expected a number, got "${s}"` };
    }
    case 'list':
      if (s.startsWith('[')) {
        try {
          const a = JSON.parse(s);
          if (Array.isArray(a)) return { value: a };
        } catch {
          /* fall through */
        }
        return { error: 'expected a JSON list such as ["a", "b"], or values separated by commas' };
      }
      return { value: s.split(',').map((x) => x.trim()).filter(Boolean) };
    default:
      return { value: String(v) };
  }
}
