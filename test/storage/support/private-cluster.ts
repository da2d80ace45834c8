import { execFile, execFileSync } from 'node:child_process';
import { appendFileSync, chownSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
const BIN = '/usr/lib/postgresql/15/bin';

/**
 * Why a private cluster cannot be made here, or null when it can. initdb refuses to run as root,
 * so the binaries run as the `postgres` OS user through runuser.
 */
export function privateClusterUnavailable(): string | null {
  for (const tool of ['initdb', 'pg_ctl', 'postgres'])
    if (!existsSync(join(BIN, tool))) return `${join(BIN, tool)} is not installed (apt-get install postgresql-15)`;
  if (!existsSync('/usr/sbin/runuser') && !existsSync('/sbin/runuser')) return 'runuser is not installed';
  try {
    execFileSync('id', ['-u', 'postgres'], { stdio: 'pipe' });
  } catch {
    return 'there is no `postgres` OS user to run initdb as';
  }
  if (process.getuid?.() !== 0) return 'the tests do not run as root, so they cannot switch to the `postgres` user';
  return null;
}

/**
 * A PostgreSQL 15 cluster of one test's own, in a temp folder: it can be stopped and restarted
 * (a real server restart, with its `57P01` goodbyes) without disturbing the shared test server.
 * Nothing is registered in /etc/postgresql; destroy() leaves no trace.
 */
export class PrivateCluster {
  private running = false;
  private readonly onExit = () => this.killNow();

  private constructor(
    private readonly dir: string,
    readonly port: number,
  ) {
    // A test that dies half-way must not leave a postmaster behind on a shared machine.
    process.on('exit', this.onExit);
  }

  /** `postgres` is the superuser; trust auth, so no password. */
  get url(): string {
    return `postgresql://postgres@127.0.0.1:${this.port}/postgres`;
  }

  private get dataDir(): string {
    return join(this.dir, 'data');
  }

  static async create(): Promise<PrivateCluster> {
    const why = privateClusterUnavailable();
    if (why) throw new Error(`cannot create a private PostgreSQL cluster: ${why}`);
    const dir = mkdtempSync(join(tmpdir(), 'kostrack-pg-'));
    const uid = Number(execFileSync('id', ['-u', 'postgres']).toString().trim());
    const gid = Number(execFileSync('id', ['-g', 'postgres']).toString().trim());
    chownSync(dir, uid, gid);
    const cluster = new PrivateCluster(dir, await freePort());
    try {
      await cluster.asPostgres(join(BIN, 'initdb'), ['-D', cluster.dataDir, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--no-sync', '--no-instructions']);
      // Durability is not under test; restarts are, so keep them fast.
      appendFileSync(
        join(cluster.dataDir, 'postgresql.conf'),
        [
          `listen_addresses = '127.0.0.1'`,
          `port = ${cluster.port}`,
          `unix_socket_directories = '${dir}'`,
          'max_connections = 40',
          'shared_buffers = 32MB',
          'fsync = off',
          'synchronous_commit = off',
          'full_page_writes = off',
          '',
        ].join('\n'),
      );
    } catch (e) {
      cluster.destroy();
      throw e;
    }
    return cluster;
  }

  async start(): Promise<void> {
    try {
      await this.asPostgres(join(BIN, 'pg_ctl'), ['-D', this.dataDir, '-l', join(this.dir, 'server.log'), '-w', '-t', '60', 'start']);
    } catch (e) {
      throw new Error(`${(e as Error).message}\n--- server.log ---\n${this.log()}`);
    }
    this.running = true;
  }

  /** `fast`: sessions get 57P01 and the server shuts down cleanly. `immediate`: no goodbye, crash recovery at the next start. */
  async stop(mode: 'fast' | 'immediate' = 'fast'): Promise<void> {
    await this.asPostgres(join(BIN, 'pg_ctl'), ['-D', this.dataDir, '-m', mode, '-w', '-t', '60', 'stop']);
    this.running = false;
  }

  /** Stops the server if it runs and deletes every file of the cluster. */
  destroy(): void {
    this.killNow();
    process.off('exit', this.onExit);
    rmSync(this.dir, { recursive: true, force: true });
  }

  log(): string {
    try {
      return readFileSync(join(this.dir, 'server.log'), 'utf8').slice(-4000);
    } catch {
      return '(no server log)';
    }
  }

  private killNow(): void {
    if (!this.running) return;
    this.running = false;
    try {
      execFileSync('runuser', ['-u', 'postgres', '--', join(BIN, 'pg_ctl'), '-D', this.dataDir, '-m', 'immediate', '-w', 'stop'], { stdio: 'ignore' });
    } catch {
      // Already gone.
    }
  }

  private async asPostgres(file: string, args: string[]): Promise<void> {
    // pg_ctl -l sends the server's output to the log, so these pipes close when pg_ctl exits.
    await run('runuser', ['-u', 'postgres', '--', file, ...args], { cwd: this.dir, timeout: 90_000 });
  }
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}
