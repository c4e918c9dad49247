/** Plain-text tables for `akd list` and `akd show`. */
import { percent } from '../protocol/format';
import { latestSession } from '../protocol/sessions';
import type { RunRecord } from '../store/runStore';

/** A run's status, with its Slurm job's queue state while it has not started (e.g. "queued (Priority)"). */
export function statusText(r: RunRecord): string {
  const session = latestSession(r.events);
  if (session?.submitted && !session.started && !session.ended) {
    const s = session.state;
    return s ? `queued (${s.state}${s.reason ? `: ${s.reason}` : ''})` : 'queued';
  }
  return r.status;
}

/** The Slurm job of a run's latest session, in words, or undefined for a local run. */
export function jobText(r: RunRecord): string | undefined {
  const session = latestSession(r.events);
  if (!session?.submitted) return undefined;
  const s = session.final ?? session.state;
  return (
    `slurm job ${session.submitted.jobId}${s ? `: ${s.state}${s.reason ? ` (${s.reason})` : ''}` : ''}${s?.node ? ` on ${s.node}` : ''}` +
    `${s?.exitCode && s.final ? `, exit code ${s.exitCode}` : ''}; output ${session.submitted.output}`
  );
}

export function formatRunList(runs: RunRecord[], root: string): string {
  if (runs.length === 0) return `no runs under ${root}`;
  const rows = [['RUN', 'STATUS', 'METHOD', 'STUDENT', 'TEACHER', 'BACKEND', 'SECONDS']];
  for (const r of runs) {
    const s = r.summary;
    rows.push([
      r.runId,
      statusText(r),
      s?.method ?? r.config?.method.type ?? '-',
      percent(s?.student.testAccuracy, 2, '-'),
      percent(s?.teacher.testAccuracy, 2, '-'),
      s?.backend ?? '-',
      s ? s.seconds.toFixed(0) : '-',
    ]);
  }
  const widths = rows[0].map((_, i) => Math.max(...rows.map((row) => row[i].length)));
  const table = rows
    .map((row) =>
      row
        .map((c, i) => c.padEnd(widths[i]))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
  // What is wrong with a run's files, one line each, after the table (the run itself is listed).
  const problems = runs.flatMap((r) => r.problems.map((p) => `${r.runId}: ${p}`));
  return problems.length > 0 ? `${table}\n\n${problems.join('\n')}` : table;
}

export function formatRunDetails(r: RunRecord): string {
  const lines = [`run      ${r.runId}`, `folder   ${r.runDir}`, `status   ${statusText(r)}`];
  const job = jobText(r);
  if (job) lines.push(`job      ${job}`);
  const s = r.summary;
  if (s) {
    lines.push(`method   ${s.method}`, `backend  ${s.backend}`);
    lines.push(
      `teacher  ${s.teacher.type}, ${s.teacher.params.toLocaleString('en-US')} params, test ${percent(s.teacher.testAccuracy, 2, '-')}`,
    );
    lines.push(
      `student  ${s.student.type}, ${s.student.params.toLocaleString('en-US')} params, test ${percent(s.student.testAccuracy, 2, '-')}`,
    );
    lines.push(`compression ${s.compression.toFixed(1)}x, ${s.seconds.toFixed(0)} s`);
    for (const p of s.phases) {
      lines.push(
        `  ${p.phase.padEnd(8)} ${p.epochs} epochs, best val ${percent(p.bestValAccuracy, 2, '-')} (epoch ${p.bestEpoch}${p.bestTemperature !== undefined ? `, T=${p.bestTemperature}` : ''}), final ${percent(p.finalValAccuracy, 2, '-')}`,
      );
    }
    if (s.error) lines.push(`error    ${s.error}`);
  }
  const last = r.events[r.events.length - 1];
  if (last) lines.push(`last event ${last.type} at ${last.time}`);
  for (const p of r.problems) lines.push(`problem  ${p}`);
  return lines.join('\n');
}
