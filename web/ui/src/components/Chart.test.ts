import { describe, expect, test } from 'vitest';
import { align } from './Chart';
import { toSeries } from './MetricChart';

describe('chart data', () => {
  test('align merges steps and leaves gaps as null', () => {
    const data = align([
      { label: 'a', color: '', x: [0, 1, 2], y: [1, 2, NaN] },
      { label: 'b', color: '', x: [1, 3], y: [5, 6] },
    ]);
    expect(data).toEqual([
      [0, 1, 2, 3],
      [1, 2, null, null],
      [null, 5, null, 6],
    ]);
  });

  test('toSeries groups by run, sorts by step and keeps the latest value of a step', () => {
    const s = toSeries(
      [
        { key: 'l', value: 3, step: 2, timestamp: 30, run_id: 'r1' },
        { key: 'l', value: 1, step: 0, timestamp: 10, run_id: 'r1' },
        { key: 'l', value: 'NaN', step: 1, timestamp: 20, run_id: 'r1' },
        { key: 'l', value: 9, step: 0, timestamp: 40, run_id: 'r1' },
        { key: 'l', value: 7, step: 0, timestamp: 10, run_id: 'r2' },
      ],
      [{ id: 'r1', label: 'one' }, { id: 'r2', label: 'two', color: 'red' }],
    );
    expect(s[0]).toMatchObject({ label: 'one', x: [0, 1, 2] });
    expect(s[0].y[0]).toBe(9);
    expect(s[0].y[1]).toBeNaN();
    expect(s[1]).toMatchObject({ label: 'two', color: 'red', x: [0], y: [7] });
  });
});
