import type { DeletionPlan } from '../../../shared/lab-api.js';
import { formatBytes, formatCount } from './format.js';

/**
 * The words of the delete dialog, from the store's plan: what goes for certain, which trained
 * parameter sets stay (and why), and — as an explicit choice — which could go with their sizes.
 */
export function describeDeletion(plan: DeletionPlan): {
  message: string;
  details: string[];
  /** the checkbox's label; null when no parameter set could be deleted */
  choice: string | null;
  /** what the checkbox deletes */
  deletable: string[];
} {
  const message = `“${plan.name}” goes with its ${formatCount(plan.runs)} runs, ${formatCount(plan.metrics)} metric points and ${formatCount(plan.logs)} log lines. This cannot be undone (export a bundle first to keep a copy).`;
  const details: string[] = [];
  const deletable = plan.paramSets.filter((p) => p.deletable);
  for (const p of plan.paramSets) {
    if (p.deletable) continue;
    const users = p.usedBy.map((u) => `“${u.name}”`);
    details.push(
      `Stays: ${p.name} (${formatBytes(p.bytes)}), used by ${users.slice(0, 3).join(', ')}${users.length > 3 ? ` and ${users.length - 3} more` : ''}.`,
    );
  }
  for (const p of deletable)
    details.push(
      `Stays unless chosen below: ${p.name} (${formatBytes(p.bytes)} on disk: ${formatBytes(p.freesBytes)} freed).`,
    );
  const freed = deletable.reduce((s, p) => s + p.freesBytes, 0);
  const choice = deletable.length
    ? `Also delete ${deletable.length === 1 ? 'this parameter set' : `these ${deletable.length} parameter sets`} (frees ${formatBytes(freed)})`
    : null;
  return { message, details, choice, deletable: deletable.map((p) => p.id) };
}
