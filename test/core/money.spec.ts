import { describe, expect, it } from 'vitest';
import { usd, usdToNumber, usdToString } from '../../lib/core/index.js';

describe('money', () => {
  it('sums 10,000 small amounts exactly where floats drift', () => {
    let exact = 0n;
    let float = 0;
    for (let i = 0; i < 10_000; i++) {
      exact += usd('0.000123');
      float += 0.000123;
    }
    expect(usdToString(exact)).toBe('1.23');
    expect(float).not.toBe(1.23);
  });

  it('parses numbers in exponent form and rounds past 15 decimals half-up', () => {
    expect(usdToString(usd(1e-7))).toBe('0.0000001');
    expect(usdToString(usd('0.0000000000000015'))).toBe('0.000000000000002');
    expect(usdToString(usd('-2.5'))).toBe('-2.5');
    expect(usdToString(usd(3n))).toBe('3');
    expect(usdToNumber(usd('0.004700'))).toBe(0.0047);
    expect(usdToString(usd('0.5'), 6)).toBe('0.500000');
  });

  it('rejects what is not a decimal amount', () => {
    expect(() => usd('1,5')).toThrow(/Not a decimal amount/);
    expect(() => usd(Number.NaN)).toThrow(/finite/);
    expect(() => usd('')).toThrow(TypeError);
  });
});

it('usdToString refuses what is not a bigint instead of printing another amount', () => {
  expect(() => usdToString('12' as never)).toThrow(/Not an amount in 1e-15 USD \(a bigint\): string/);
  expect(() => usdToString(0.5 as never)).toThrow(TypeError);
});
