import { computed, onBeforeUnmount, onUpdated, ref, watch, type Ref } from 'vue';

/**
 * Renders only the rows of a long table that are in (or near) its scrolling container's view,
 * with spacer heights above and below standing in for the rest — a thousand experiments cost
 * what forty do. Rows are assumed to share one height, measured from the first rendered row.
 */
export function useVirtualRows(
  scroller: Ref<HTMLElement | null>,
  count: Ref<number>,
  opts: { estimate?: number; overscan?: number; viewport?: () => number } = {},
): Ref<{ start: number; end: number; top: number; bottom: number }> {
  const rowH = ref(opts.estimate ?? 48);
  const top = ref(0);
  // until the container is there to measure, the caller's guess (its CSS height) saves a re-render
  const height = ref(opts.viewport?.() || 900);
  const overscan = opts.overscan ?? 12;
  const onScroll = (): void => {
    const el = scroller.value;
    if (!el) return;
    top.value = el.scrollTop;
    height.value = el.clientHeight || 900;
  };
  const measure = (): void => {
    const row = scroller.value?.querySelector<HTMLElement>('tbody tr[data-id]');
    const h = row?.offsetHeight;
    if (h && Math.abs(h - rowH.value) > 1) rowH.value = h;
  };
  // Sizes are read in the next frame, where the browser lays the page out anyway: read right after
  // an update, they forced that layout inside the update's task (a long task with a big table).
  let frame = 0;
  const measureSoon = (): void => {
    if (frame) return;
    frame = requestAnimationFrame(() => {
      frame = 0;
      onScroll();
      measure();
    });
  };
  // The container may appear later (after the first data arrives): follow the ref.
  watch(
    scroller,
    (el, old) => {
      old?.removeEventListener('scroll', onScroll);
      el?.addEventListener('scroll', onScroll, { passive: true });
      measureSoon();
    },
    { flush: 'post' },
  );
  onUpdated(measureSoon);
  onBeforeUnmount(() => {
    if (frame) cancelAnimationFrame(frame);
    scroller.value?.removeEventListener('scroll', onScroll);
  });
  // The same object while the window stays put, so a scroll or resize within a row re-renders nothing.
  return computed((prev) => {
    const n = count.value;
    const start = Math.max(0, Math.floor(top.value / rowH.value) - overscan);
    const end = Math.min(n, Math.ceil((top.value + height.value) / rowH.value) + overscan);
    const next = {
      start,
      end: Math.max(start, end),
      top: start * rowH.value,
      bottom: Math.max(0, n - end) * rowH.value,
    };
    return prev &&
      prev.start === next.start &&
      prev.end === next.end &&
      prev.top === next.top &&
      prev.bottom === next.bottom
      ? prev
      : next;
  });
}
