/** Plain-text tables for `akd list` and `akd show`. */
import { recordedOverrides, type RunStartedEvent } from '../protocol/events';
import { noteLine, percent } from '../protocol/format';
import { readRunMeta } from '../protocol/runMeta';
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

/** One run as `akd list --json` prints it (and `akd show --json`, with the summary). */
export interface RunListEntry {
  runId: string;
  runDir: string;
  /** From the events: running, completed, failed, cancelled (unknown: no session yet). */
  status: RunRecord['status'];
  name: string | null;
  method: string | null;
  configPath: string | null;
  /** The student's and the teacher's test accuracy (0..1), when the run has a summary. */
  student: number | null;
  teacher: number | null;
  backend: string | null;
  seconds: number | null;
  startedAt: string | null;
  endedAt: string | null;
  starred: boolean;
  note: string | null;
  /** `--set` values it ran with. */
  overrides: Record<string, unknown> | null;
  error: string | null;
  /** What is wrong with the run's files (a torn event line, a damaged checkpoint...), one line each. */
  problems: string[];
  /** A Slurm run: its latest job. */
  job?: { jobId: string; state: string | null };
}

export function runListEntry(r: RunRecord): { record: RunRecord; entry: RunListEntry } {
  const s = r.summary;
  const started = r.events.find((e): e is RunStartedEvent => e.type === 'run-started');
  const meta = readRunMeta(r.runDir);
  const session = latestSession(r.events);
  const job = session?.submitted
    ? { jobId: session.submitted.jobId, state: (session.final ?? session.state)?.state ?? null }
    : undefined;
  return {
    record: r,
    entry: {
      runId: r.runId,
      runDir: r.runDir,
      status: r.status,
      name: s?.name ?? r.config?.name ?? null,
      method: s?.method ?? r.config?.method.type ?? null,
      configPath: started?.configPath ?? null,
      student: s?.student?.testAccuracy ?? null,
      teacher: s?.teacher?.testAccuracy ?? null,
      backend: s?.backend ?? null,
      seconds: typeof s?.seconds === 'number' ? s.seconds : null,
      startedAt: s?.startedAt ?? started?.time ?? null,
      endedAt: s?.endedAt ?? null,
      starred: meta.starred === true,
      note: meta.note ?? null,
      overrides: s?.overrides ?? recordedOverrides(r.events) ?? null,
      error: s?.error ?? null,
      problems: r.problems,
      ...(job ? { job } : {}),
    },
  };
}

export function formatRunList(runs: { record: RunRecord; entry: RunListEntry }[], root: string): string {
  if (runs.length === 0) return `no runs under ${root}`;
  const rows = [['RUN', 'STATUS', 'METHOD', 'STUDENT', 'TEACHER', 'BACKEND', 'SECONDS', '★', 'NOTE']];
  for (const { record: r, entry: e } of runs) {
    rows.push([
      r.runId,
      statusText(r),
      e.method ?? '-',
      percent(e.student ?? undefined, 2, '-'),
      percent(e.teacher ?? undefined, 2, '-'),
      e.backend ?? '-',
      e.seconds !== null ? e.seconds.toFixed(0) : '-',
      e.starred ? '★' : '',
      noteLine(e.note ?? undefined, 50),
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
  const problems = runs.flatMap(({ record: r }) => r.problems.map((p) => `${r.runId}: ${p}`));
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
  const overrides = s?.overrides ?? recordedOverrides(r.events);
  if (overrides)
    lines.push(
      `set      ${Object.entries(overrides)
        .map(([k, v]) => `${k}=${JSON.stringify(v)}`)
        .join(' ')}`,
    );
  const meta = readRunMeta(r.runDir);
  if (meta.starred) lines.push('starred  ★');
  if (meta.note) lines.push(`note     ${meta.note}`);
  const last = r.events[r.events.length - 1];
  if (last) lines.push(`last event ${last.type} at ${last.time}`);
  for (const p of r.problems) lines.push(`problem  ${p}`);
  return lines.join('\n');
}
