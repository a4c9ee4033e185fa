import { describe, expect, it } from 'vitest';
import { levelOfQuery, serviceOfQuery, withLevel, withService } from '../src/logql';

describe('log filters', () => {
  it('set, change and clear the service in the selector', () => {
    expect(withService('', 'cart')).toBe('{service_name="cart"}');
    expect(withService('|= "x"', 'cart')).toBe('{service_name="cart"} |= "x"');
    expect(withService('{job="a"} |= "x"', 'cart')).toBe('{service_name="cart", job="a"} |= "x"');
    expect(withService('{service_name="a", job="b"}', 'cart')).toBe('{service_name="cart", job="b"}');
    expect(withService('{job="b", service_name=~"a.*"}', 'cart')).toBe('{job="b", service_name="cart"}');
    expect(withService('{service_name="a", job="b"}', '')).toBe('{job="b"}');
    expect(serviceOfQuery('{job="b", service_name="cart"} |= "service_name=\\"x\\""')).toBe('cart');
  });
  it('set, change and clear the level', () => {
    expect(withLevel('{a="b"}', 'error')).toBe('{a="b"} | detected_level="error"');
    expect(withLevel('{a="b"} | detected_level="error" |= "x"', 'warn')).toBe('{a="b"} |= "x" | detected_level="warn"');
    expect(withLevel('{a="b"} | detected_level="error"', '')).toBe('{a="b"}');
    expect(levelOfQuery('{a="b"} | detected_level="warn"')).toBe('warn');
  });
});
