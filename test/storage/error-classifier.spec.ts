import { expect, it } from 'vitest';
import { isConnectionError, isDataError, sqlState } from '../../lib/storage/error.classifier.js';

it('tells a row PostgreSQL rejects from a database that is away, Node socket codes included', () => {
  const rejected = Object.assign(new Error('invalid byte sequence'), { code: '22021', severity: 'ERROR' });
  expect([sqlState(rejected), isDataError(rejected), isConnectionError(rejected)]).toEqual(['22021', true, false]);
  const shuttingDown = Object.assign(new Error('terminating connection'), { code: '57P01', severity: 'FATAL' });
  expect([isDataError(shuttingDown), isConnectionError(shuttingDown)]).toEqual([false, true]);
  // Five capital letters, but Node's, not a SQLSTATE: the database is unreachable.
  for (const code of ['EPIPE', 'EPERM', 'EBADF', 'ECONNREFUSED']) {
    const e = Object.assign(new Error(code), { code });
    expect([code, sqlState(e), isDataError(e), isConnectionError(e)]).toEqual([code, undefined, false, true]);
  }
});
