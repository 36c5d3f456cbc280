import { shallowRef } from 'vue';

export interface ConfirmRequest {
  title: string;
  message: string;
  confirmLabel: string;
  danger: boolean;
  /** lines listed under the message */
  details?: string[];
  /** an unticked checkbox the user must tick knowingly; its state is `choiceChecked` */
  choice?: string | null;
  resolve(ok: boolean, choiceChecked?: boolean): void;
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

/** confirmAction with listed details and an opt-in checkbox (unticked by default). */
export function confirmWithChoice(o: {
  title: string;
  message: string;
  details?: string[];
  choice?: string | null;
  confirmLabel?: string;
  danger?: boolean;
}): Promise<{ ok: boolean; choice: boolean }> {
  pendingConfirm.value?.resolve(false);
  return new Promise((resolve) => {
    pendingConfirm.value = {
      title: o.title,
      message: o.message,
      details: o.details ?? [],
      choice: o.choice ?? null,
      confirmLabel: o.confirmLabel ?? 'OK',
      danger: o.danger ?? false,
      resolve: (ok, checked) => {
        pendingConfirm.value = null;
        resolve({ ok, choice: ok && !!checked });
      },
    };
  });
}
