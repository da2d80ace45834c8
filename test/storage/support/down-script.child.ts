// A script as users write them, against a database that refuses connections, that never calls
// close(): it must still exit on its own and leave its rows in the spool.
import { recordCall, startKostrack, trace } from '../../../lib/index.js';
import { syntheticCall } from './synthetic.js';

const [url, spoolDir, deadLetterFile] = process.argv.slice(2);
await startKostrack({ database: url, writer: { spoolDir, deadLetterFile, flushIntervalMs: 10 } });
trace({ name: 'down' }, () => {
  for (let i = 0; i < 3; i++) recordCall(syntheticCall());
});
process.stdout.write('RECORDED\n');
