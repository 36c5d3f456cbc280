import { shallowRef } from 'vue';

export interface ConfirmRequest {
  title: string;
  message: string;
  confirmLabel: string;
  danger: boolean;
  resolve(ok: boolean): void;
}

/** The one confirmation dialog of the app (rendered by ConfirmHost in App.vue). */
export const pendingConfirm = shallowRef<ConfirmRequest | null>(null);

export function confirmAction(o: {
  title: string;
  message: string;
  confirmLabel?: string;
  danger?: boolean;
}): Promise<boolean> {
  pendingConfirm.value?.resolve(false);
  return new Promise((resolve) => {
    pendingConfirm.value = {
      title: o.title,
      message: o.message,
      confirmLabel: o.confirmLabel ?? 'OK',
      danger: o.danger ?? false,
      resolve: (ok) => {
        pendingConfirm.value = null;
        resolve(ok);
      },
    };
  });
}
