/** The runner child process wrapper: events from stdout, other lines to the log, SIGTERM then SIGKILL. */
import * as assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, describe, it } from 'node:test';
import type { StreamEvent } from '../../../runner/protocol';
import { processAlive } from '../../../runner/protocol/processAlive';
import { RunnerProcess, stopPid } from '../../../extension/runs/runnerProcess';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'akd-proc-'));
after(() => fs.rmSync(dir, { recursive: true, force: true }));

/** A stand-in runner: one event, one plain line, one stderr line; `ignoreTerm` makes it deaf to SIGTERM. */
function fakeRunner(ignoreTerm: boolean): string {
  const file = path.join(dir, `fake-${ignoreTerm ? 'deaf' : 'polite'}.js`);
  fs.writeFileSync(
    file,
    `
    process.on('SIGTERM', () => { ${ignoreTerm ? '' : 'process.exit(143);'} });
    process.stdout.write(JSON.stringify({ v: 1, time: new Date().toISOString(), type: 'log', level: 'info', message: 'hello' }) + '\\n');
    process.stdout.write('not an event\\n');
    process.stderr.write('a warning\\n');
    setInterval(() => {}, 1000);
  `,
  );
  return file;
}

function start(ignoreTerm: boolean): {
  proc: RunnerProcess;
  events: StreamEvent[];
  lines: string[];
  ready: Promise<void>;
} {
  const events: StreamEvent[] = [];
  const lines: string[] = [];
  let done: () => void = () => {};
  const ready = new Promise<void>((r) => {
    done = r;
  });
  const proc = new RunnerProcess(
    { node: process.execPath, script: fakeRunner(ignoreTerm), args: [], cwd: dir },
    {
      onEvent: (e) => {
        events.push(e);
      },
      onOutput: (line, stream) => {
        lines.push(`${stream}: ${line}`);
        if (lines.length === 2) done();
      },
    },
  );
  return { proc, events, lines, ready };
}

describe('RunnerProcess', () => {
  it('parses events from stdout and passes other lines on; SIGTERM ends a runner that listens', async () => {
    const { proc, events, lines, ready } = start(false);
    await ready;
    assert.deepEqual(
      events.map((e) => e.type),
      ['log'],
    );
    assert.deepEqual(lines.sort(), ['stderr: a warning', 'stdout: not an event']);
    const exit = await proc.stop(5000);
    assert.equal(exit.code, 143);
    assert.equal(proc.running, false);
  });

  it('sends SIGKILL when SIGTERM is ignored past the timeout', async () => {
    const { proc, ready } = start(true);
    await ready;
    const t0 = Date.now();
    const exit = await proc.stop(300);
    assert.equal(exit.signal, 'SIGKILL');
    assert.ok(Date.now() - t0 >= 250);
  });
});

describe('stopPid (runs this window did not start)', () => {
  it('escalates to SIGKILL for a process that ignores SIGTERM', async () => {
    const child = spawn(process.execPath, [fakeRunner(true)], {
      stdio: ['ignore', 'pipe', 'ignore'],
      detached: true,
    });
    await new Promise((r) => child.stdout?.once('data', r)); // its SIGTERM handler is installed
    assert.ok(child.pid && processAlive(child.pid));
    assert.equal(await stopPid(child.pid, 300, 50), 'killed');
    await new Promise((r) => child.once('exit', r));
    assert.equal(await stopPid(child.pid, 300, 50), 'gone');
  });
});
