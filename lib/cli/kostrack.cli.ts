#!/usr/bin/env node
/**
 * The `kostrack` command (package.json `bin`). Plain node, no framework: it opens its own
 * connection, so it runs beside a live app (or on a machine with no app at all).
 */
import { importCostsCommand, IMPORT_COSTS_USAGE, reconcileCommand, RECONCILE_USAGE } from './reconcile.command.js';
import { EXIT, repriceCommand, REPRICE_USAGE } from './reprice.command.js';

const USAGE = `Usage: kostrack <command> [options]

Commands:
  reprice        recompute stored costs after a price correction (kostrack reprice --help)
  import-costs   import a provider's own daily cost figures (kostrack import-costs --help)
  reconcile      compare tracked costs with what the providers billed (kostrack reconcile --help)`;

async function main(argv: string[]): Promise<number> {
  const io = { out: (t: string) => process.stdout.write(`${t}\n`), err: (t: string) => process.stderr.write(`${t}\n`), env: process.env };
  const [command, ...rest] = argv;
  if (command === 'reprice') return repriceCommand(rest, io);
  if (command === 'import-costs') return importCostsCommand(rest, io);
  if (command === 'reconcile') return reconcileCommand(rest, io);
  if (command === undefined || command === '--help' || command === '-h' || command === 'help') {
    const help: Record<string, string> = { reprice: REPRICE_USAGE, 'import-costs': IMPORT_COSTS_USAGE, reconcile: RECONCILE_USAGE };
    io.out(help[rest[0] ?? ''] ?? USAGE);
    return EXIT.ok;
  }
  io.err(`kostrack: unknown command ${JSON.stringify(command)}\n${USAGE}`);
  return EXIT.usage;
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (e: unknown) => {
    process.stderr.write(`kostrack: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    process.exitCode = EXIT.failed;
  },
);
