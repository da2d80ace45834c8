#!/usr/bin/env node
/**
 * The `kostrack` command (package.json `bin`). Plain node, no framework: it opens its own
 * connection, so it runs beside a live app (or on a machine with no app at all).
 */
import { EXIT, repriceCommand, REPRICE_USAGE } from './reprice.command.js';

const USAGE = `Usage: kostrack <command> [options]

Commands:
  reprice    recompute stored costs after a price correction (kostrack reprice --help)`;

async function main(argv: string[]): Promise<number> {
  const io = { out: (t: string) => process.stdout.write(`${t}\n`), err: (t: string) => process.stderr.write(`${t}\n`), env: process.env };
  const [command, ...rest] = argv;
  if (command === 'reprice') return repriceCommand(rest, io);
  if (command === undefined || command === '--help' || command === '-h' || command === 'help') {
    io.out(rest[0] === 'reprice' ? REPRICE_USAGE : USAGE);
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
