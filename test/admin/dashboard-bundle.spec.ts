import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { BUNDLE_FILE, bundleDashboard } from '../../lib/admin/dashboard/build.dashboard.js';

describe('the dashboard bundle', () => {
  it('is up to date with the front-end sources', async () => {
    expect(readFileSync(BUNDLE_FILE, 'utf8')).toBe(await bundleDashboard());
  });
});
