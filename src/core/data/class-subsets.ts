import { createHash } from 'node:crypto';
import type { ClassSelection } from '../../shared/domain/index.js';
import type { RawDataset, RawSplit } from './raw.js';

/**
 * Class subsets: a dataset restricted to some of its classes, relabelled 0..k−1 in the order the
 * selection gives them, with their names kept. The pre-trained scenario lives on these (pre-train
 * on Fashion-MNIST 0–4, fine-tune on 5–9; CIFAR-10 → a 10-class CIFAR-100 subset).
 *
 * A selection is a list of class indices or names, a range "a-b" (inclusive), or a named split:
 *   "lower-half" / "upper-half"  the first / second half of the classes (Fashion-MNIST 0–4 / 5–9)
 *   "subset-k"                   the k-th block of 10 consecutive classes (CIFAR-100's ten
 *                                10-class subsets: subset-0 = fine labels 0–9, …, subset-9 = 90–99)
 */

export interface NamedClassSplit {
  id: string;
  label: string;
  classes: number[];
}

const range = (a: number, b: number): number[] => Array.from({ length: b - a + 1 }, (_, i) => a + i);

/** The named splits a dataset with `classes` classes offers (for the wizard and for errors). */
export function namedClassSplits(classes: number, classNames: string[] = []): NamedClassSplit[] {
  const out: NamedClassSplit[] = [];
  const name = (i: number): string => classNames[i] ?? String(i);
  if (classes >= 2) {
    const half = Math.floor(classes / 2);
    out.push({
      id: 'lower-half',
      label: `classes 0–${half - 1} (${name(0)} … ${name(half - 1)})`,
      classes: range(0, half - 1),
    });
    out.push({
      id: 'upper-half',
      label: `classes ${half}–${classes - 1} (${name(half)} … ${name(classes - 1)})`,
      classes: range(half, classes - 1),
    });
  }
  if (classes >= 20 && classes % 10 === 0) {
    for (let k = 0; k < classes / 10; k++)
      out.push({
        id: `subset-${k}`,
        label: `10-class subset ${k}: classes ${10 * k}–${10 * k + 9}`,
        classes: range(10 * k, 10 * k + 9),
      });
  }
  return out;
}

/** The class indices a selection names, checked against the dataset; throws a message naming the bad entry. */
export function resolveClasses(sel: ClassSelection, classes: number, classNames: string[]): number[] {
  const check = (i: number, what: string): number => {
    if (!Number.isInteger(i) || i < 0 || i >= classes)
      throw new RangeError(`class ${what} is out of range: the dataset has classes 0–${classes - 1}`);
    return i;
  };
  let out: number[];
  if (typeof sel === 'string') {
    const named = namedClassSplits(classes, classNames).find((s) => s.id === sel);
    const m = /^\s*(\d+)\s*-\s*(\d+)\s*$/.exec(sel);
    if (named) out = named.classes;
    else if (m) {
      const [a, b] = [Number(m[1]), Number(m[2])];
      if (a > b) throw new RangeError(`class range "${sel}" is empty`);
      out = range(check(a, String(a)), check(b, String(b)));
    } else {
      const known = namedClassSplits(classes, classNames).map((s) => s.id);
      throw new RangeError(
        `unknown class split "${sel}": use a range like "5-9", a list of classes, or one of ${known.join(', ')}`,
      );
    }
  } else {
    const lower = classNames.map((n) => n.toLowerCase());
    out = sel.map((c) => {
      if (typeof c === 'number') return check(c, String(c));
      const i = lower.indexOf(c.toLowerCase());
      if (i < 0) throw new RangeError(`class "${c}" is not one of ${classNames.join(', ')}`);
      return i;
    });
  }
  if (new Set(out).size !== out.length) throw new RangeError('a class is selected twice');
  if (out.length < 2) throw new RangeError(`a class subset needs at least 2 classes, got ${out.length}`);
  return out;
}

function selectSplit(split: RawSplit, imageSize: number, remap: Int16Array): RawSplit {
  let n = 0;
  for (let i = 0; i < split.n; i++) if (remap[split.labels[i]!]! >= 0) n++;
  const images = new Uint8Array(n * imageSize);
  const labels = new Uint8Array(n);
  let k = 0;
  for (let i = 0; i < split.n; i++) {
    const to = remap[split.labels[i]!]!;
    if (to < 0) continue;
    images.set(split.images.subarray(i * imageSize, (i + 1) * imageSize), k * imageSize);
    labels[k++] = to;
  }
  return { images, labels, n };
}

/**
 * The dataset restricted to `classes` (indices into its classes), labels remapped to their
 * positions in that list, names kept, order of the examples kept. The content hash covers the
 * selection, so stored models trained on different subsets never mix.
 */
export function selectClasses(raw: RawDataset, classes: number[]): RawDataset {
  const remap = new Int16Array(raw.classes).fill(-1);
  classes.forEach((c, i) => (remap[c] = i));
  const size = raw.shape[0] * raw.shape[1] * raw.shape[2];
  const picked = classes.map((c) => raw.classNames[c] ?? String(c));
  return {
    ...raw,
    name: `${raw.name} [${compactClasses(classes)}]`,
    classes: classes.length,
    classNames: picked,
    train: selectSplit(raw.train, size, remap),
    test: selectSplit(raw.test, size, remap),
    contentHash: createHash('sha256')
      .update(`${raw.contentHash}:classes:${classes.join(',')}`)
      .digest('hex'),
  };
}

/** "5-9" for a consecutive ascending run, else "3,1,7". */
export function compactClasses(classes: number[]): string {
  const run = classes.every((c, i) => i === 0 || c === classes[i - 1]! + 1);
  return run && classes.length > 2 ? `${classes[0]}-${classes[classes.length - 1]}` : classes.join(',');
}
