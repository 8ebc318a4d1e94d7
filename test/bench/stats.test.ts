import { describe, expect, it } from 'vitest'
import { grid, maxInWindow, median, percentile } from '../../bench/stats.js'
import { renderTable, seconds } from '../../bench/table.js'

describe('percentile', () => {
  it('interpolates between the nearest ranks', () => {
    expect(percentile([4, 1, 3, 2], 50)).toBe(2.5)
    expect(percentile([1, 2, 3, 4], 0)).toBe(1)
    expect(percentile([1, 2, 3, 4], 100)).toBe(4)
    const hundred = Array.from({ length: 100 }, (_, i) => i + 1)
    expect(percentile(hundred, 95)).toBeCloseTo(95.05, 10)
    expect(median([7])).toBe(7)
  })

  it('does not reorder its input', () => {
    const values = [3, 1, 2]
    percentile(values, 50)
    expect(values).toEqual([3, 1, 2])
  })

  it('is NaN for no values and refuses a percentile outside 0-100', () => {
    expect(percentile([], 50)).toBeNaN()
    expect(() => percentile([1], 101)).toThrow(RangeError)
    expect(() => percentile([1], Number.NaN)).toThrow(RangeError)
  })
})

describe('grid', () => {
  it('covers [from, to) in equal steps', () => {
    expect(grid(0, 1, 0.25)).toEqual([0, 0.25, 0.5, 0.75])
    expect(grid(5, 5, 1)).toEqual([])
    expect(() => grid(0, 1, 0)).toThrow(RangeError)
  })
})

describe('maxInWindow', () => {
  it('counts timestamps in the busiest half-open window', () => {
    expect(maxInWindow([0, 1_000, 2_000], 1_000)).toBe(1)
    expect(maxInWindow([0, 999, 1_000], 1_000)).toBe(2)
    expect(maxInWindow([5_000, 0, 4_500, 4_900], 1_000)).toBe(3)
    expect(maxInWindow([], 1_000)).toBe(0)
  })
})

describe('renderTable', () => {
  it('pads every column to its widest cell', () => {
    expect(renderTable(['a', 'bb'], [['ccc', 'd']])).toBe('| a   | bb |\n| --- | -- |\n| ccc | d  |')
  })

  it('formats seconds', () => {
    expect(seconds(734)).toBe('0.73 s')
    expect(seconds(5_000, 0)).toBe('5 s')
    expect(seconds(Number.NaN)).toBe('n/a')
  })
})
