import type { MethodName } from '../spec.js';
import type { TransferMethod } from './context.js';
import { fgmt } from './fgmt.js';
import { gmt } from './gmt.js';
import { naive } from './naive.js';
import { oracle } from './oracle.js';

export const METHODS: Record<MethodName, TransferMethod> = { naive, oracle, gmt, fgmt };

export { runMethod } from './run-method.js';
export type { TransferContext, TransferMethod, TransferOptions } from './context.js';
