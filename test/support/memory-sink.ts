import { afterEach, beforeEach } from 'vitest';
import { addSink, MemorySink } from '../../lib/core/index.js';

/** A MemorySink attached for each test of the calling `describe` and emptied between tests. */
export function useMemorySink(): MemorySink {
  const sink = new MemorySink();
  let remove: (() => void) | undefined;
  beforeEach(() => {
    sink.clear();
    remove = addSink(sink);
  });
  afterEach(() => remove?.());
  return sink;
}
