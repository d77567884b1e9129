import { describe, expect, it } from 'vitest';
import { positionalEncoding } from '../../dist/index.js';

describe('positionalEncoding', () => {
  it('follows PE[p, 2i] = sin(p / 10000^(2i/d)), PE[p, 2i+1] = cos(same)', () => {
    const pe = positionalEncoding(50, 16);
    expect(pe.length).toBe(50 * 16);
    for (const p of [0, 1, 7, 49]) {
      for (let i = 0; i < 8; i++) {
        const angle = p / Math.pow(10000, (2 * i) / 16);
        expect(pe[p * 16 + 2 * i]).toBeCloseTo(Math.sin(angle), 6);
        expect(pe[p * 16 + 2 * i + 1]).toBeCloseTo(Math.cos(angle), 6);
      }
    }
  });

  it('row 0 alternates 0, 1; an odd dModel ends with a sine column', () => {
    expect(Array.from(positionalEncoding(1, 5))).toEqual([0, 1, 0, 1, 0]);
    const pe = positionalEncoding(3, 3);
    expect(pe[2 * 3 + 2]).toBeCloseTo(Math.sin(2 / Math.pow(10000, 2 / 3)), 6);
  });
});
