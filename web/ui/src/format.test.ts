import { describe, expect, test } from 'vitest';
import { breakable, fmtAgo, fmtBytes, fmtDuration, fmtNumber, fmtPercent, splitRunIds } from './format';

describe('format', () => {
  test.each([
    [0.91491234, '0.9149'],
    [12, '12'],
    [1234567, '1,234,567'],
    [0.00001234, '1.234e-5'],
    [NaN, 'NaN'],
    [Infinity, '∞'],
    [undefined, ''],
  ])('fmtNumber(%s) = %s', (v, want) => expect(fmtNumber(v)).toBe(want));

  test('durations', () => {
    expect(fmtDuration(1000, 1500)).toBe('500 ms');
    expect(fmtDuration(0, 5000)).toBe('');
    expect(fmtDuration(1, 12_501)).toBe('12.5s');
    expect(fmtDuration(1, 131_001)).toBe('2m 11s');
    expect(fmtDuration(1, 2 * 3600_000 + 5 * 60_000 + 1)).toBe('2h 05m');
  });

  test('relative times, sizes, percentages', () => {
    const now = 10_000_000_000;
    expect(fmtAgo(now - 5000, now)).toBe('5s ago');
    expect(fmtAgo(now - 3 * 60_000, now)).toBe('3 min ago');
    expect(fmtAgo(now - 5 * 3600_000, now)).toBe('5 h ago');
    expect(fmtBytes(253)).toBe('253 B');
    expect(fmtBytes(2048)).toBe('2.0 KB');
    expect(fmtBytes('3145728')).toBe('3.0 MB');
    expect(fmtPercent(0.5412)).toBe('54%');
    expect(fmtPercent(0.045)).toBe('4.5%');
    expect(fmtPercent(1)).toBe('100%');
  });
});

describe('text helpers', () => {
  test('run IDs in a log become separate parts; other hex stays text', () => {
    const id = '0123456789abcdef0123456789abcdef';
    expect(splitRunIds(`run ${id} started; sha ${id}ff not an id`)).toEqual(['run ', { run: id }, ` started; sha ${id}ff not an id`]);
    expect(splitRunIds('nothing here')).toEqual(['nothing here']);
  });

  test('keys break after _ . / - (null marks a <wbr>)', () => {
    expect(breakable('best_val_accuracy')).toEqual(['best_', null, 'val_', null, 'accuracy']);
    expect(breakable('cairn.tune.trial')).toEqual(['cairn.', null, 'tune.', null, 'trial']);
    expect(breakable('loss')).toEqual(['loss']);
  });
});
