import { describe, expect, test } from 'vitest';
import { align } from './Chart';
import { forLog, smooth, toSeries } from './MetricChart';

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

  test('toSeries puts time on x when asked: seconds since the first value, or Unix seconds', () => {
    const pts = [
      { key: 'l', value: 1, step: 0, timestamp: 10_000, run_id: 'r' },
      { key: 'l', value: 2, step: 1, timestamp: 12_500, run_id: 'r' },
      { key: 'l', value: 3, step: 5, timestamp: 20_000, run_id: 'r' },
    ];
    const runs = [{ id: 'r', label: 'r' }];
    expect(toSeries(pts, runs, 'step')[0].x).toEqual([0, 1, 5]);
    expect(toSeries(pts, runs, 'relative')[0].x).toEqual([0, 2.5, 10]);
    expect(toSeries(pts, runs, 'wall')[0].x).toEqual([10, 12.5, 20]);
  });

  test('smoothing is a debiased moving average; a log scale hides what it cannot draw', () => {
    expect(smooth([1, 2, 3], 0)).toEqual([1, 2, 3]);
    const s = smooth([2, 2, 2, NaN, 2], 0.9);
    expect(s.filter(Number.isFinite).every((v) => Math.abs(v - 2) < 1e-9)).toBe(true); // no pull toward 0 at the start
    expect(Number.isNaN(s[3])).toBe(true);
    const sm = smooth([0, 10], 0.5);
    expect(sm[1]).toBeCloseTo((0.5 * 0.5 * 0 + 0.5 * 10) / (1 - 0.25));
    const l = forLog([{ label: 'a', color: '', x: [0, 1, 2], y: [0, -1, 5] }]);
    expect(l.hidden).toBe(2);
    expect(l.series[0].y.map((v) => (Number.isNaN(v) ? null : v))).toEqual([null, null, 5]);
  });
});
