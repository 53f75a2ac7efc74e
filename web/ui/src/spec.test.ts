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

  test("the fingers example's scheduler is a choice of three; coerce holds to it", () => {
    const spec = parseSpec(readFileSync(resolve(process.cwd(), '../../examples/fingers/pipeline.yaml'), 'utf8'));
    const p = spec.params.find((x) => x.name === 'scheduler')!;
    expect(p).toMatchObject({ type: 'string', default: 'asha', enum: ['asha', 'median', 'fifo'] });
    expect(coerce(p, 'fifo')).toEqual({ value: 'fifo' });
    expect(coerce(p, 'pbt').error).toBe('expected one of asha, median, fifo, got "pbt"');
    const sizes = parseSpec('params:\n  size: {type: int, enum: [32, 64], default: 32}\ntasks: {a: {run: x}}\n').params[0];
    expect(sizes.enum).toEqual(['32', '64']);
    expect(coerce(sizes, '64')).toEqual({ value: 64 });
  });

  test('YAML that does not parse throws', () => {
    expect(() => parseSpec('name: [')).toThrow();
  });
});
