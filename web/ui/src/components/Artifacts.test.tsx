import { describe, expect, test } from 'vitest';
import { prettyJSON } from './Artifacts';

describe('artifact previews', () => {
  test('JSON keeps short lists of plain values on one line, nests the rest', () => {
    expect(prettyJSON('{"confusion":[[5,1],[0,7]],"classes":["0","1"],"meta":{"n":13}}')).toBe(
      '{\n  "confusion": [\n    [5, 1],\n    [0, 7]\n  ],\n  "classes": ["0", "1"],\n  "meta": {\n    "n": 13\n  }\n}',
    );
    const long = JSON.stringify(Array.from({ length: 60 }, (_, i) => i * 1000));
    expect(prettyJSON(long).split('\n').length).toBe(62); // too long for one line: one per line
    expect(prettyJSON('not json')).toBe('not json');
    expect(prettyJSON('[]')).toBe('[]');
  });
});
