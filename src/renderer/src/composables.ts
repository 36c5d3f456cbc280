import { onBeforeUnmount, onMounted, watch } from 'vue';
import type { LabEvent } from '../../shared/lab-api.js';
import { onLabEvent, reconnects } from './lab.js';

/** Subscribes for the lifetime of the component; refetches after the socket reconnects. */
export function useLabEvents(listener: (e: LabEvent) => void, refetch?: () => void): void {
  let off: (() => void) | null = null;
  onMounted(() => {
    off = onLabEvent(listener);
  });
  onBeforeUnmount(() => off?.());
  if (refetch) watch(reconnects, () => refetch());
}

/** Calls fn at most once per `ms`, the last call winning (trailing). */
export function throttle(fn: () => void, ms: number): { (): void; cancel(): void } {
  let timer: ReturnType<typeof setTimeout> | null = null;
  let last = 0;
  const run = (): void => {
    timer = null;
    last = Date.now();
    fn();
  };
  const t = (): void => {
    if (timer) return;
    const wait = Math.max(0, last + ms - Date.now());
    timer = setTimeout(run, wait);
  };
  t.cancel = (): void => {
    if (timer) clearTimeout(timer);
    timer = null;
  };
  return t;
}
