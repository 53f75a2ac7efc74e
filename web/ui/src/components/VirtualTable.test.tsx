import { render } from '@testing-library/preact';
import { describe, expect, test, vi } from 'vitest';
import { VirtualTable, visibleRange } from './VirtualTable';

describe('VirtualTable', () => {
  test('visibleRange', () => {
    expect(visibleRange(0, 340, 34, 10_000, 5)).toEqual([0, 15]);
    expect(visibleRange(34 * 5000, 340, 34, 10_000, 5)).toEqual([4995, 5015]);
    expect(visibleRange(0, 340, 34, 3, 5)).toEqual([0, 2]);
  });

  test('10,000 rows render only what is in view', () => {
    const cols = [{ id: 'a', label: 'A', width: 100 }, { id: 'b', label: 'B', width: 80, num: true, sortable: true }];
    const onSort = vi.fn();
    const onNearEnd = vi.fn();
    const { container, getByText } = render(
      <VirtualTable columns={cols} rowCount={10_000} rowKey={(i) => String(i)} cell={(i, c) => `${c.id}${i}`} onSort={onSort} onNearEnd={onNearEnd} height="400px" />,
    );
    const rows = container.querySelectorAll('.vrow');
    expect(rows.length).toBeGreaterThan(5);
    expect(rows.length).toBeLessThan(60);
    expect(getByText('a0')).toBeTruthy();
    expect((container.querySelector('.vbody') as HTMLElement).style.height).toBe('340000px');
    expect(onNearEnd).not.toHaveBeenCalled();
    getByText('B').click();
    expect(onSort).toHaveBeenCalledWith(cols[1]);
  });

  test('a short table asks for more at once', () => {
    const onNearEnd = vi.fn();
    render(<VirtualTable columns={[{ id: 'a', label: 'A', width: 100 }]} rowCount={3} rowKey={String} cell={() => 'x'} onNearEnd={onNearEnd} />);
    expect(onNearEnd).toHaveBeenCalled();
  });
});
