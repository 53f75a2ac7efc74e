import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, test } from 'vitest';
import { coerce, formValue, parseSpec } from './spec';

describe('pipeline spec', () => {
  test('the Titanic example: long and short param forms, types as Go reads them', () => {
    const spec = parseSpec(readFileSync(resolve(process.cwd(), '../../examples/titanic/pipeline.yaml'), 'utf8'));
    expect(spec.name).toBe('titanic');
    const p = Object.fromEntries(spec.params.map((x) => [x.name, x]));
    expect(p.data).toMatchObject({ type: 'string', default: '', description: expect.stringContaining('train.csv') });
    expect(p.synthetic_rows).toMatchObject({ type: 'int', default: 891 });
    expect(p.models).toMatchObject({ type: 'list', default: ['logistic', 'mlp', 'rf', 'gbdt'] });
    expect(p.cv_repeats).toMatchObject({ type: 'int', default: 2 });
    expect(p.lr).toMatchObject({ type: 'float', default: 0.005 });
    expect(p.min_accuracy.type).toBe('float');
    expect(spec.tasks.find((t) => t.name === 'prepare')?.needs).toEqual(['synth']);
  });

  test('short forms, lists, required params, 1 versus 1.0', () => {
    const spec = parseSpec(`name: x
params:
  models: [cnn, mlp]
  n: 1
  ratio: 1.0
  flag: true
  need: {type: int}
tasks:
  a: {run: echo}
  b: {needs: a, for_each: "\${{ params.models }}", run: echo}
`);
    const types = Object.fromEntries(spec.params.map((x) => [x.name, x.type]));
    expect(types).toEqual({ models: 'list', n: 'int', ratio: 'float', flag: 'bool', need: 'int' });
    expect(spec.params.find((x) => x.name === 'need')?.default).toBeUndefined();
    expect(spec.tasks[1]).toMatchObject({ name: 'b', needs: ['a'], forEach: true });
    expect(formValue(spec.params[0])).toBe('cnn, mlp');
  });

  test('coerce gives each type its JSON value or a message', () => {
    const p = (type: 'string' | 'int' | 'float' | 'bool' | 'list', def?: unknown) => ({ name: 'p', type, default: def });
    expect(coerce(p('int', 1), '42')).toEqual({ value: 42 });
    expect(coerce(p('int', 1), '4.2').error).toMatch(/whole number/);
    expect(coerce(p('float', 1), '1e-3')).toEqual({ value: 0.001 });
    expect(coerce(p('float', 1), 'abc').error).toMatch(/expected a number/);
    expect(coerce(p('bool', false), true)).toEqual({ value: true });
    expect(coerce(p('list', []), 'a, b ,c')).toEqual({ value: ['a', 'b', 'c'] });
    expect(coerce(p('list', []), '[1, "x"]')).toEqual({ value: [1, 'x'] });
    expect(coerce(p('list', []), '[1,').error).toMatch(/JSON list/);
    expect(coerce(p('int'), '').error).toBe('required');
    expect(coerce(p('int', 3), '')).toEqual({ omit: true });
    expect(coerce(p('string', 'x'), '')).toEqual({ value: '' });
  });

  test('YAML that does not parse throws', () => {
    expect(() => parseSpec('name: [')).toThrow();
  });
});
