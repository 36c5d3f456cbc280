import { methodInfo, type MethodName } from '../../shared/domain/index.js';
import type { MethodImpl, TransferMethod } from './context.js';
import { fgmt } from './fgmt.js';
import { gmt } from './gmt.js';
import { naive } from './naive.js';
import { oracle } from './oracle.js';

/** The tensor side of each method in the domain registry (src/shared/domain/methods.ts). */
const IMPLS: Record<MethodName, MethodImpl> = { naive, oracle, gmt, fgmt };

function withInfo(impl: MethodImpl): TransferMethod {
  const info = methodInfo(impl.name);
  if (!info) throw new Error(`method "${impl.name}" is not in the domain registry`);
  return { ...info, ...impl };
}

export const METHODS = Object.fromEntries(
  Object.values(IMPLS).map((impl) => [impl.name, withInfo(impl)]),
) as Record<MethodName, TransferMethod>;

export { runMethod } from './run-method.js';
export type { MethodImpl, TransferContext, TransferMethod, TransferOptions } from './context.js';
