/**
 * An error in a dataset on disk. The message always starts with the file (or directory) at fault,
 * because the person reading it has to go and fix that file.
 */
export class DatasetError extends Error {
  constructor(
    readonly file: string,
    readonly problem: string,
  ) {
    super(`${file}: ${problem}`);
    this.name = 'DatasetError';
  }
}
