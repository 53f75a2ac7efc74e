import { describe, expect, test } from 'vitest';
import type { PipelineTask } from '../api';
import { defaultTask } from './PipelineRun';

const t = (node: string, task: string, phase: PipelineTask['phase'], item?: number): PipelineTask => ({ node, task, phase, item, attempts: phase === 'Pending' ? 0 : 1, exit_code: 0 });

describe('defaultTask', () => {
  test('a running item rather than its for_each task, else a failed task, else the first', () => {
    expect(defaultTask([t('prepare', 'prepare', 'Succeeded'), t('train', 'train', 'Running'), t('train[0]', 'train', 'Running', 0), t('report', 'report', 'Pending')])).toBe('train[0]');
    expect(defaultTask([t('a', 'a', 'Succeeded'), t('b', 'b', 'Failed'), t('c', 'c', 'Omitted')])).toBe('b');
    expect(defaultTask([t('a', 'a', 'Pending'), t('b', 'b', 'Pending')])).toBe('a');
    expect(defaultTask([])).toBeUndefined();
  });
});
