/**
 * Starts code-server (a real VS Code 1.100.3 server with a Node extension host) on loopback for
 * the tests, with its own user-data and extensions folders, and stops it again.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';

export interface CodeServer {
  url: string;
  authority: string;
  stop(): Promise<void>;
}

export interface CodeServerOptions {
  bin: string;
  dataDir: string;
  /** false: workspace trust is on and folders start untrusted. */
  disableTrust: boolean;
  env?: NodeJS.ProcessEnv;
  settings?: Record<string, unknown>;
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const port = (server.address() as net.AddressInfo).port;
      server.close(() => resolve(port));
    });
  });
}

async function waitHealthy(url: string, child: ChildProcess, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`code-server exited with ${child.exitCode}`);
    try {
      const res = await fetch(`${url}/healthz`);
      if (res.ok) return;
    } catch {
      /* not listening yet */
    }
    await new Promise((r) => setTimeout(r, 150));
  }
  throw new Error(`code-server not healthy after ${timeoutMs} ms`);
}

export async function startCodeServer(options: CodeServerOptions): Promise<CodeServer> {
  const port = await freePort();
  const userDir = path.join(options.dataDir, 'user');
  fs.mkdirSync(path.join(userDir, 'User'), { recursive: true });
  fs.mkdirSync(path.join(options.dataDir, 'ext'), { recursive: true });
  fs.writeFileSync(
    path.join(userDir, 'User', 'settings.json'),
    JSON.stringify(
      {
        'extensions.autoCheckUpdates': false,
        'extensions.autoUpdate': false,
        'workbench.startupEditor': 'none',
        'telemetry.telemetryLevel': 'off',
        'update.mode': 'none',
        'workbench.enableExperiments': false,
        'workbench.tips.enabled': false,
        'security.workspace.trust.enabled': !options.disableTrust,
        'security.workspace.trust.startupPrompt': 'never',
        ...options.settings,
      },
      null,
      2,
    ),
  );
  const config = path.join(options.dataDir, 'config.yaml');
  fs.writeFileSync(config, `bind-addr: 127.0.0.1:${port}\nauth: none\n`);
  const args = [
    options.bin,
    '--config',
    config,
    '--bind-addr',
    `127.0.0.1:${port}`,
    '--auth',
    'none',
    '--disable-telemetry',
    '--disable-update-check',
    '--disable-getting-started-override',
    ...(options.disableTrust ? ['--disable-workspace-trust'] : []),
    '--user-data-dir',
    userDir,
    '--extensions-dir',
    path.join(options.dataDir, 'ext'),
  ];
  const log = fs.openSync(path.join(options.dataDir, 'server.log'), 'w');
  // Never `--log trace`: it writes the whole environment into the log.
  const child = spawn(process.execPath, args, {
    stdio: ['ignore', log, log],
    env: { ...process.env, ...options.env },
  });
  const url = `http://127.0.0.1:${port}`;
  await waitHealthy(url, child, 30_000);
  return {
    url,
    authority: `127.0.0.1:${port}`,
    stop: async () => {
      if (child.exitCode !== null) return;
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
      fs.closeSync(log);
    },
  };
}
