/**
 * Builds the bundled default dataset, resources/datasets/fashion-mnist-mini: a class-balanced
 * subset of Fashion-MNIST in the original gzipped IDX format, plus its README and LICENSE.
 *
 *   npx tsx scripts/make-mini-dataset.ts [--src DIR] [--out DIR] [--train-per-class N] [--test-per-class N] [--seed S]
 *
 * Reproducible: the subset depends only on the seed, gzip runs at level 9 with a zero timestamp
 * and a fixed OS byte, so rerunning gives byte-identical files (with the same zlib).
 */
import { createHash } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { FASHION_MNIST_CLASS_NAMES } from '../src/core/data/class-names.js';
import {
  encodeIdx,
  IDX_FILE_NAMES,
  IDX_IMAGES_MAGIC,
  IDX_LABELS_MAGIC,
  readIdxDir,
} from '../src/core/data/idx.js';
import type { RawSplit } from '../src/core/data/raw.js';
import { shuffledIndices } from '../src/core/data/split.js';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..');

interface Args {
  src: string;
  out: string;
  trainPerClass: number;
  testPerClass: number;
  seed: number;
}

function parseArgs(argv: string[]): Args {
  const a: Args = {
    src: '/usr/share/datasets/fashion-mnist',
    out: join(repoRoot, 'resources', 'datasets', 'fashion-mnist-mini'),
    trainPerClass: 1000,
    testPerClass: 200,
    seed: 20170825,
  };
  for (let i = 0; i < argv.length; i += 2) {
    const [k, v] = [argv[i], argv[i + 1]];
    if (v === undefined) throw new Error(`missing value after ${k}`);
    if (k === '--src') a.src = v;
    else if (k === '--out') a.out = resolve(v);
    else if (k === '--train-per-class') a.trainPerClass = Number(v);
    else if (k === '--test-per-class') a.testPerClass = Number(v);
    else if (k === '--seed') a.seed = Number(v);
    else throw new Error(`unknown option ${k}`);
  }
  return a;
}

/** Indices of `perClass` images of each class, drawn in a seeded order, then put back in file order. */
function balancedSubset(labels: Uint8Array, classes: number, perClass: number, seed: number): Int32Array {
  const taken = new Array<number>(classes).fill(0);
  const picked: number[] = [];
  for (const i of shuffledIndices(labels.length, seed)) {
    const l = labels[i]!;
    if (taken[l]! < perClass) {
      taken[l]!++;
      picked.push(i);
    }
  }
  const short = taken.findIndex((t) => t < perClass);
  if (short >= 0) throw new Error(`class ${short} has only ${taken[short]} images, ${perClass} requested`);
  return Int32Array.from(picked.sort((a, b) => a - b));
}

function subset(
  split: RawSplit,
  idx: Int32Array,
  imageSize: number,
): { images: Uint8Array; labels: Uint8Array } {
  const images = new Uint8Array(idx.length * imageSize);
  const labels = new Uint8Array(idx.length);
  idx.forEach((i, k) => {
    images.set(split.images.subarray(i * imageSize, (i + 1) * imageSize), k * imageSize);
    labels[k] = split.labels[i]!;
  });
  return { images, labels };
}

/** gzip level 9; the header's OS byte is pinned to 3 (Unix) so the bytes do not depend on the platform. */
function deterministicGzip(data: Uint8Array): Buffer {
  const gz = gzipSync(data, { level: 9 });
  gz[9] = 3;
  return gz;
}

const sha256 = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

interface Written {
  name: string;
  bytes: number;
  sha256: string;
  contentSha256: string;
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const full = await readIdxDir(args.src, 10);
  const [h, w] = full.shape;
  const size = h * w;
  const trainIdx = balancedSubset(full.train.labels, 10, args.trainPerClass, args.seed);
  const testIdx = balancedSubset(full.test.labels, 10, args.testPerClass, args.seed + 1);
  const train = subset(full.train, trainIdx, size);
  const test = subset(full.test, testIdx, size);

  await mkdir(args.out, { recursive: true });
  const outputs: [string, Uint8Array][] = [
    [IDX_FILE_NAMES.trainImages, encodeIdx(IDX_IMAGES_MAGIC, [trainIdx.length, h, w], train.images)],
    [IDX_FILE_NAMES.trainLabels, encodeIdx(IDX_LABELS_MAGIC, [trainIdx.length], train.labels)],
    [IDX_FILE_NAMES.testImages, encodeIdx(IDX_IMAGES_MAGIC, [testIdx.length, h, w], test.images)],
    [IDX_FILE_NAMES.testLabels, encodeIdx(IDX_LABELS_MAGIC, [testIdx.length], test.labels)],
  ];
  const written: Written[] = [];
  for (const [name, content] of outputs) {
    const gz = deterministicGzip(content);
    await writeFile(join(args.out, `${name}.gz`), gz);
    written.push({
      name: `${name}.gz`,
      bytes: gz.length,
      sha256: sha256(gz),
      contentSha256: sha256(content),
    });
  }
  const sources = await Promise.all(full.files.map(async (f) => ({ f, sha: sha256(await readFile(f)) })));
  await writeFile(
    join(args.out, 'README.md'),
    readme(args, trainIdx.length, testIdx.length, written, sources),
  );
  await writeFile(join(args.out, 'LICENSE'), LICENSE);

  const total = written.reduce((a, x) => a + x.bytes, 0);
  for (const x of written)
    console.log(`${x.name.padEnd(30)} ${String(x.bytes).padStart(9)} bytes  ${x.sha256}`);
  console.log(
    `total ${total} bytes (${(total / 1024 / 1024).toFixed(2)} MiB); train ${trainIdx.length}, test ${testIdx.length}; wrote ${relative(process.cwd(), args.out) || '.'}`,
  );
}

function readme(
  args: Args,
  nTrain: number,
  nTest: number,
  written: Written[],
  sources: { f: string; sha: string }[],
): string {
  const cmd = ['npx tsx scripts/make-mini-dataset.ts'];
  if (args.trainPerClass !== 1000) cmd.push(`--train-per-class ${args.trainPerClass}`);
  if (args.testPerClass !== 200) cmd.push(`--test-per-class ${args.testPerClass}`);
  if (args.seed !== 20170825) cmd.push(`--seed ${args.seed}`);
  const total = written.reduce((a, x) => a + x.bytes, 0);
  return `# fashion-mnist-mini

The lab's bundled default dataset: a class-balanced subset of
[Fashion-MNIST](https://github.com/zalandoresearch/fashion-mnist) by Zalando Research
(Han Xiao, Kashif Rasul, Roland Vollgraf, *Fashion-MNIST: a Novel Image Dataset for Benchmarking
Machine Learning Algorithms*, arXiv:1708.07747, 2017).

Fashion-MNIST is Copyright (c) 2017 Zalando SE and released under the MIT licence; the full text is
in [LICENSE](LICENSE). This subset is redistributed under the same licence.

## Contents

28×28 greyscale images, 10 classes (${FASHION_MNIST_CLASS_NAMES.join(', ')}), in the original
gzipped IDX format and file names, so any MNIST reader opens it.

| split | images | per class | taken from |
|---|---|---|---|
| train | ${nTrain} | ${args.trainPerClass} | the official 60 000-image training set |
| test | ${nTest} | ${args.testPerClass} | the official 10 000-image test set |

Images keep their original relative order. The lab carves its validation split out of the
training images at run time (10 % by default, split seed 777).

| file | bytes | sha256 (file) | sha256 (gunzipped) |
|---|---|---|---|
${written.map((x) => `| ${x.name} | ${x.bytes} | \`${x.sha256}\` | \`${x.contentSha256}\` |`).join('\n')}

Total: ${total} bytes.

## How it was made

\`\`\`
${cmd.join(' ')}
\`\`\`

(\`npm run make:mini\` runs the same.) It reads the full Fashion-MNIST files from Debian's
\`dataset-fashion-mnist\` package in \`${args.src}\`:

${sources.map((s) => `- \`${s.f.split('/').pop()}\` sha256 \`${s.sha}\``).join('\n')}

and, for each split, walks the images in a seeded shuffled order (xoshiro128** from src/core/random.ts + Fisher–Yates, seed
${args.seed} for train, ${args.seed + 1} for test) taking the first ${args.trainPerClass} / ${args.testPerClass} of
each class. The files are gzipped at level 9 with a zero timestamp, so a rerun is byte-identical
with the same zlib; another zlib build may compress differently, which is why the sha256 of the
gunzipped content is listed too.
`;
}

const LICENSE = `The MIT License (MIT)

Copyright (c) 2017 Zalando SE, https://tech.zalando.com

Permission is hereby granted, free of charge, to any person obtaining a copy of this software and
associated documentation files (the "Software"), to deal in the Software without restriction,
including without limitation the rights to use, copy, modify, merge, publish, distribute,
sublicense, and/or sell copies of the Software, and to permit persons to whom the Software is
furnished to do so, subject to the following conditions:

The above copyright notice and this permission notice shall be included in all copies or
substantial portions of the Software.

THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR IMPLIED, INCLUDING BUT
NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY, FITNESS FOR A PARTICULAR PURPOSE AND
NONINFRINGEMENT. IN NO EVENT SHALL THE AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM,
DAMAGES OR OTHER LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING FROM, OUT
OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN THE SOFTWARE.
`;

main().catch((e: unknown) => {
  console.error(e instanceof Error ? e.message : e);
  process.exit(1);
});
