import type { Permutation } from '../permutation.js';
import type { PermutationDiagnostics } from '../../shared/domain/index.js';

/** Fraction of all units (over every permutation group) where a and b agree. */
export function agreement(a: Permutation, b: Permutation): number {
  let same = 0;
  let total = 0;
  for (const [name, pa] of Object.entries(a)) {
    const pb = b[name];
    if (!pb || pb.length !== pa.length) throw new Error(`permutation "${name}" differs in size`);
    for (let i = 0; i < pa.length; i++) if (pa[i] === pb[i]) same++;
    total += pa.length;
  }
  return total === 0 ? 1 : same / total;
}

/** Fraction of all units not at their identity position. */
export function changedFraction(p: Permutation): number {
  let moved = 0;
  let total = 0;
  for (const pa of Object.values(p)) {
    for (let i = 0; i < pa.length; i++) if (pa[i] !== i) moved++;
    total += pa.length;
  }
  return total === 0 ? 0 : moved / total;
}

/**
 * Per step s = 1..T of a method's π_s: units moved from identity, agreement with Oracle's π and
 * with π_{s−1} (π_0 = identity), and the matching objective of each step.
 */
export function permutationDiagnostics(
  perms: readonly Permutation[],
  objective: readonly number[],
  oracle?: Permutation,
): PermutationDiagnostics {
  const out: PermutationDiagnostics = {
    changedFraction: perms.map(changedFraction),
    agreementWithPrevious: perms.map((p, s) =>
      s === 0 ? 1 - changedFraction(p) : agreement(p, perms[s - 1]),
    ),
    objective: [...objective],
  };
  if (oracle) out.agreementWithOracle = perms.map((p) => agreement(p, oracle));
  return out;
}
