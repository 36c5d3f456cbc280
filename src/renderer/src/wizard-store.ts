import { computed, reactive, watch } from 'vue';
import type { DatasetPreview, ParamSetRecord } from '../../shared/lab-api.js';
import type { ExperimentSpec } from '../../shared/domain/index.js';
import { appInfo, loadAppInfo, request } from './lab.js';
import { toUiError, type UiError } from './lib/errors.js';
import {
  STEPS,
  applyTrainedSource,
  archSpec,
  buildSpec,
  datasetSpec,
  emptyState,
  normaliseField,
  parseTags,
  presetState,
  stepOfField,
  validateStep,
  type Errors,
  type ParamCheck,
  type StepId,
  type ValidationContext,
  type WizardState,
} from './lib/wizard.js';
import { go } from './router.js';

/**
 * The wizard's state lives outside the component, so leaving the wizard (to look something up in
 * history) and coming back keeps what was typed.
 */
export const wiz = reactive({
  state: emptyState() as WizardState,
  step: 'dataset' as StepId,
  preset: null as string | null,
  /** steps whose errors are shown (the user tried to leave them) */
  attempted: [] as StepId[],
  /** errors the services reported on create, by field */
  serverErrors: {} as Errors,
  preview: {
    status: 'idle' as ValidationContext['preview'],
    data: null as DatasetPreview | null,
    error: '' as string,
    key: '',
  },
  paramSets: [] as ParamSetRecord[],
  paramSetsError: null as UiError | null,
  /** params.check results for the current architecture and data shape */
  paramChecks: new Map<string, ParamCheck>(),
  checksFor: '',
  submitting: false,
  submitError: null as UiError | null,
});

export function resetWizard(preset: string | null): void {
  wiz.state = preset ? presetState(preset) : emptyState();
  wiz.preset = preset;
  wiz.step = 'dataset';
  wiz.attempted = [];
  wiz.serverErrors = {};
  wiz.submitError = null;
  void loadPreview();
}

export const context = computed<ValidationContext>(() => ({
  preview: wiz.preview.status,
  previewError: wiz.preview.error,
  paramChecks: wiz.paramChecks,
}));

export function stepErrors(step: StepId): Errors {
  return validateStep(step, wiz.state, context.value);
}

/** Errors to show on a step: local ones once the user tried to leave it, plus the services'. */
export function shownErrors(step: StepId): Errors {
  const server: Errors = {};
  for (const [f, m] of Object.entries(wiz.serverErrors)) if (stepOfField(f) === step) server[f] = m;
  return { ...(wiz.attempted.includes(step) ? stepErrors(step) : {}), ...server };
}

export function errorFor(errors: Errors, key: string): string | undefined {
  if (errors[key]) return errors[key];
  // an error on a parent ("targets[0].init") shows on its inputs too
  for (const [k, m] of Object.entries(errors)) if (key.startsWith(`${k}.`)) return m;
  return undefined;
}

// ───────────────────────────── dataset preview ─────────────────────────────

let previewSeq = 0;

export async function loadPreview(force = false): Promise<void> {
  const s = wiz.state;
  if (s.dataset.choice === 'files' && !s.dataset.dir.trim()) {
    wiz.preview = { status: 'idle', data: null, error: '', key: '' };
    return;
  }
  const spec = datasetSpec(s);
  const key = JSON.stringify(spec);
  if (!force && key === wiz.preview.key && wiz.preview.status !== 'error') return;
  const seq = ++previewSeq;
  wiz.preview = {
    status: 'loading',
    data: wiz.preview.key === key ? wiz.preview.data : null,
    error: '',
    key,
  };
  try {
    const data = await request('datasets.preview', {
      spec: spec as unknown as Record<string, unknown>,
      perClass: 6,
    });
    if (seq !== previewSeq) return;
    wiz.preview = { status: 'ok', data, error: '', key };
  } catch (e) {
    if (seq !== previewSeq) return;
    wiz.preview = { status: 'error', data: null, error: toUiError(e).message, key };
  }
}

// A different dataset choice invalidates the preview (the directory is loaded on request).
watch(
  () => [wiz.state.dataset.choice, wiz.state.dataset.format, wiz.state.dataset.labelKind] as const,
  () => void loadPreview(),
);
watch(
  () => wiz.state.dataset.dir,
  () => {
    if (wiz.state.dataset.choice === 'files' && JSON.stringify(datasetSpec(wiz.state)) !== wiz.preview.key) {
      previewSeq++;
      wiz.preview = { status: 'idle', data: null, error: '', key: '' };
    }
  },
);

// ───────────────────────────── parameter sets ─────────────────────────────

export async function loadParamSets(): Promise<void> {
  try {
    wiz.paramSets = await request('params.list', {});
    wiz.paramSetsError = null;
  } catch (e) {
    wiz.paramSetsError = toUiError(e);
  }
}

/**
 * The file the engine reads for a parameter set. The API has no way to name a parameter set in a
 * spec, so this follows the store's layout: `<dataDir>/weights/<sha256>.safetensors`.
 */
export function paramFile(id: string): string | null {
  const ps = wiz.paramSets.find((p) => p.id === id);
  const dir = appInfo.value?.dataDir;
  if (!ps || !dir) return null;
  const sep = dir.includes('\\') && !dir.includes('/') ? '\\' : '/';
  return `${dir.replace(/[\\/]+$/, '')}${sep}weights${sep}${ps.sha256}.safetensors`;
}

export function paramName(id: string): string | null {
  return wiz.paramSets.find((p) => p.id === id)?.name ?? null;
}

function checkContext(): {
  key: string;
  arch: Record<string, unknown>;
  inputShape: number[];
  classes: number;
} | null {
  const p = wiz.preview.data;
  if (!p) return null;
  const arch = archSpec(wiz.state) as unknown as Record<string, unknown>;
  return {
    key: JSON.stringify([arch, p.inputShape, p.classes]),
    arch,
    inputShape: [...p.inputShape],
    classes: p.classes,
  };
}

/** Asks the services whether a parameter set fits the chosen architecture and data; cached. */
export async function checkParamSet(id: string): Promise<void> {
  if (!id) return;
  const ctx = checkContext();
  if (!ctx) {
    wiz.paramChecks.set(id, {
      state: 'error',
      reason: 'load the dataset preview first (the check needs its input shape and classes)',
    });
    return;
  }
  if (ctx.key !== wiz.checksFor) {
    wiz.paramChecks.clear();
    wiz.checksFor = ctx.key;
  }
  const have = wiz.paramChecks.get(id);
  if (have && have.state !== 'error') return;
  wiz.paramChecks.set(id, { state: 'checking' });
  try {
    const r = await request('params.check', {
      id,
      arch: ctx.arch,
      inputShape: ctx.inputShape,
      classes: ctx.classes,
    });
    if (wiz.checksFor !== ctx.key) return;
    wiz.paramChecks.set(
      id,
      r.fits ? { state: 'fits' } : { state: 'misfit', reason: r.reason ?? 'it does not fit' },
    );
  } catch (e) {
    if (wiz.checksFor !== ctx.key) return;
    wiz.paramChecks.set(id, { state: 'error', reason: toUiError(e).message });
  }
}

/** Re-checks every chosen parameter set (after the architecture or dataset changed). */
export function recheckChosen(): void {
  const ids = new Set<string>();
  if (wiz.state.source.init.from === 'paramset') ids.add(wiz.state.source.init.paramSetId);
  for (const t of wiz.state.targets) if (t.from === 'paramset') ids.add(t.paramSetId);
  for (const id of ids) void checkParamSet(id);
}

watch(
  () => JSON.stringify([archSpec(wiz.state), wiz.preview.data?.inputShape, wiz.preview.data?.classes]),
  () => recheckChosen(),
);

/** Fills the source from a trained parameter set's experiment: the engine then reuses it. */
export async function useTrainedSource(ps: ParamSetRecord): Promise<void> {
  if (!ps.experimentId) throw new Error('this parameter set does not record the experiment that trained it');
  const detail = await request('experiments.get', { id: ps.experimentId });
  const spec = detail.spec as ExperimentSpec;
  applyTrainedSource(wiz.state, spec, { paramSetId: ps.id, experimentId: ps.experimentId, label: ps.name });
  // A target trained for Oracle is as good a source: its seed, the same training settings.
  if (ps.seed !== null && spec.source.init.seed !== ps.seed)
    wiz.state.source.init = { from: 'seed', seed: ps.seed, paramSetId: '', label: '' };
  reuseFingerprint = trainingFingerprint();
}

// ───────────────────────────── navigation and submit ─────────────────────────────

export function stepIndex(s: StepId): number {
  return STEPS.indexOf(s);
}

/** Tries to leave the current step forward; returns false (and shows why) when it has errors. */
export function next(): boolean {
  const step = wiz.step;
  if (!wiz.attempted.includes(step)) wiz.attempted.push(step);
  if (Object.keys(shownErrors(step)).length) return false;
  const i = stepIndex(step);
  if (i < STEPS.length - 1) wiz.step = STEPS[i + 1];
  return true;
}

export function back(): void {
  const i = stepIndex(wiz.step);
  if (i > 0) wiz.step = STEPS[i - 1];
}

/** Jumps to a step: backwards always, forwards only over valid steps (stopping at the first bad one). */
export function goto(step: StepId): void {
  const target = stepIndex(step);
  for (let i = stepIndex(wiz.step); i < target; i++) {
    const s = STEPS[i];
    if (Object.keys(stepErrors(s)).length) {
      if (!wiz.attempted.includes(s)) wiz.attempted.push(s);
      wiz.step = s;
      return;
    }
  }
  wiz.step = step;
}

export function currentSpec(): ExperimentSpec {
  return buildSpec(wiz.state, { paramFile, paramName });
}

export async function submit(): Promise<void> {
  for (const s of STEPS) {
    if (Object.keys(stepErrors(s)).length) {
      if (!wiz.attempted.includes(s)) wiz.attempted.push(s);
      wiz.step = s;
      return;
    }
  }
  wiz.submitting = true;
  wiz.submitError = null;
  wiz.serverErrors = {};
  try {
    await loadAppInfo();
    const spec = currentSpec();
    const { id } = await request('experiments.create', {
      spec: spec as unknown as Record<string, unknown>,
      name: wiz.state.name.trim(),
      tags: parseTags(wiz.state.tags),
      notes: wiz.state.notes,
    });
    go('run', id);
  } catch (e) {
    const err = toUiError(e);
    wiz.submitError = err;
    if (err.field) {
      const f = normaliseField(err.field);
      wiz.serverErrors = { [f]: err.message };
      wiz.step = stepOfField(f);
    }
  } finally {
    wiz.submitting = false;
  }
}

/** What decides whether the engine can reuse a trained source (its training key, roughly). */
let reuseFingerprint = '';
function trainingFingerprint(): string {
  const s = wiz.state;
  return JSON.stringify([
    datasetSpec(s),
    s.dataset.valFraction,
    s.dataset.splitSeed,
    s.dataset.trainLimit,
    archSpec(s),
    s.source.init,
    s.source.train,
  ]);
}
// Changing any of it means the source will be trained after all: stop saying it is reused.
watch(trainingFingerprint, (fp) => {
  if (wiz.state.source.reuse && fp !== reuseFingerprint) wiz.state.source.reuse = null;
});

// Edits clear what the services said about the previous attempt.
watch(
  () => JSON.stringify(wiz.state),
  () => {
    if (Object.keys(wiz.serverErrors).length) wiz.serverErrors = {};
  },
);
