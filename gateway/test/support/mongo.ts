/** Helpers for tests that need the MongoDB-compatible server started by global-setup.ts. */
import { randomBytes } from 'node:crypto';
import { inject } from 'vitest';

/** URL of the test server (FerretDB started by global setup, or MONGO_URL). */
export function mongoTestUrl(): string {
  const url = inject('mongoUrl');
  if (!url) throw new Error('mongoUrl was not provided: is gateway/test/support/global-setup.ts the vitest globalSetup?');
  return url;
}

/**
 * A database name no other test file (or re-run) uses, so files running in parallel never see each other's data.
 * MongoDB limits database names to 63 bytes and forbids /\. "$ and spaces.
 */
export function uniqueDatabaseName(prefix: string): string {
  const safePrefix = prefix.replace(/[^A-Za-z0-9_-]/g, '_').slice(0, 40);
  return `${safePrefix}_${Date.now().toString(36)}_${randomBytes(4).toString('hex')}`;
}
