export * from './types.js';
export * from './fields.js';
export {
  SpecError,
  SpecReader,
  describeIssue,
  parseArch,
  parseDataset,
  parseSpec,
  validateArch,
  validateSpec,
  type SpecIssue,
} from './parse.js';
