/**
 * The loopback OpenAI server for providers.bench.ts, in its own process as a real provider would
 * be: its parsing and JSON work must not share the measured client's event loop.
 */
import { openaiRoutes } from '../loopback/openai.loopback.js';
import { LoopbackServer } from '../loopback/loopback.server.js';

// argv: the response's model and its usage object (JSON), as the parent measures them.
const [model, usage] = [process.argv[2], JSON.parse(process.argv[3]) as unknown];
const server = await openaiRoutes(new LoopbackServer(), { model, usage }).start();
// The test server keeps every request for assertions; a benchmark only needs the responses.
setInterval(() => (server.requests.length = 0), 200).unref();
process.stdout.write(`${server.url}\n`);
process.on('disconnect', () => void server.close().then(() => process.exit(0)));
