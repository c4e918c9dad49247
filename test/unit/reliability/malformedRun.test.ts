/** show/list tolerate a malformed run (issue defect 7): one line saying what is wrong, the rest listed. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { runAkd, tempDir } from '../../helpers/akdProcess';
import { runDirOf, tinyConfig } from './tinyRun';

test('defect 7: a malformed summary.json or config.json breaks neither akd list nor akd show', async () => {
  const dir = tempDir('malformed');
  const runs = path.join(dir, 'runs');
  const config = tinyConfig(dir, 'ok', { phase1Epochs: 2 });
  const good = runDirOf(await runAkd(['run', config, '--out', runs, '--json']));
  // Two more completed runs: copies of the first under later ids.
  const bad = path.join(runs, `${path.basename(good)}-2`);
  const odd = path.join(runs, `${path.basename(good)}-3`);
  fs.cpSync(good, bad, { recursive: true });
  fs.cpSync(good, odd, { recursive: true });
  // Valid JSON, wrong shape.
  fs.writeFileSync(path.join(bad, 'summary.json'), JSON.stringify({ status: 3, student: 'x', phases: {} }));
  fs.writeFileSync(path.join(odd, 'config.json'), '[]');
  fs.writeFileSync(path.join(odd, 'summary.json'), 'null');

  const list = await runAkd(['list', runs]);
  assert.equal(list.code, 0, list.stderr);
  assert.doesNotMatch(list.stderr, /\n\s+at /);
  for (const run of [good, bad, odd])
    assert.ok(list.stdout.includes(path.basename(run)), `${path.basename(run)} listed:\n${list.stdout}`);
  assert.match(list.stdout, new RegExp(`${path.basename(good)}\\s+completed`));
  assert.match(list.stdout + list.stderr, /summary\.json.*(not a run summary|status)/);

  for (const run of [bad, odd]) {
    const show = await runAkd(['show', run]);
    assert.equal(show.code, 0, show.stderr);
    assert.doesNotMatch(show.stderr, /\n\s+at |TypeError/);
    assert.match(show.stdout, /status\s+completed/, 'the events still say how it ended');
    assert.match(show.stdout, /problem\s+.*(summary|config)\.json/);
  }
});
