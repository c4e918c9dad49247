/**
 * How a run reads in one line: CodeLens, tree descriptions, the status bar and notifications all
 * use these, so a result looks the same everywhere. Pure functions.
 */
import { percent, type RunState } from '../../runner/protocol';

/** 0.9712 -> "97.1%"; "–" when not known. */
export function formatAccuracy(value: number | null | undefined): string {
  return percent(value, 1);
}

export function formatAgo(iso: string | undefined, now: number = Date.now()): string {
  if (!iso) return '';
  const seconds = Math.max(0, (now - Date.parse(iso)) / 1000);
  if (seconds < 60) return 'just now';
  const minutes = Math.round(seconds / 60);
  if (minutes < 60) return `${minutes} min ago`;
  const hours = Math.round(minutes / 60);
  if (hours < 48) return `${hours} h ago`;
  return `${Math.round(hours / 24)} days ago`;
}

/** "anneal T=3 · epoch 2/4" */
export function progressText(run: RunState): string {
  if (run.job && !run.phase && run.status === 'starting') {
    return `Slurm job ${run.job.id} ${run.job.state?.toLowerCase() ?? 'submitted'}${run.job.reason && run.job.reason !== 'None' ? ` (${run.job.reason})` : ''}`;
  }
  const parts: string[] = [];
  if (run.phase)
    parts.push(
      run.temperature !== undefined && run.phase === 'anneal'
        ? `${run.phase} T=${run.temperature}`
        : run.phase,
    );
  if (run.epochs) parts.push(`epoch ${run.epoch ?? 0}/${run.epochs}`);
  return parts.join(' · ') || 'starting';
}

/** "student 97.1% · teacher 99.0% · annealing, 3 min ago" */
export function resultText(run: RunState, now: number = Date.now()): string {
  const when = formatAgo(run.endedAt ?? run.startedAt, now);
  switch (run.status) {
    case 'completed': {
      const s = run.summary;
      return `student ${formatAccuracy(s?.student.testAccuracy)} · teacher ${formatAccuracy(s?.teacher.testAccuracy)} · ${s?.method ?? run.method ?? ''}${when ? `, ${when}` : ''}`;
    }
    case 'running':
    case 'starting':
      return `running: ${progressText(run)}`;
    case 'failed':
      return `failed${run.error ? `: ${truncate(run.error, 60)}` : ''}${when ? `, ${when}` : ''}`;
    case 'cancelled':
      return `cancelled${when ? `, ${when}` : ''}`;
    case 'interrupted':
      return `interrupted${when ? `, ${when}` : ''}`;
    default:
      return 'no result';
  }
}

function truncate(text: string, max: number): string {
  const line = text.split('\n')[0];
  return line.length > max ? `${line.slice(0, max - 1)}…` : line;
}
