/**
 * Renders a reason the gateway sent as `{ code, params? }` from the catalogues (`reason.<code>`), in the
 * current language. Parameters that are reasons themselves (the step of a failed stream, the causes of a poor
 * grade) are rendered first; lists are joined with the language's separator. A code the catalogue does not
 * know falls back to the English text the gateway sent next to it (never the raw code).
 */
import type { Composer } from 'vue-i18n';

export interface ReasonCode {
  code: string;
  params?: Record<string, ReasonParam>;
}
export type ReasonParam = string | number | ReasonCode | ReasonCode[];

type Translator = Pick<Composer, 't' | 'te'>;

function isReason(value: unknown): value is ReasonCode {
  return typeof value === 'object' && value !== null && typeof (value as ReasonCode).code === 'string';
}

export function renderReason(i18n: Translator, reason: ReasonCode | null | undefined, fallback = ''): string {
  if (!reason) return fallback;
  const key = `reason.${reason.code}`;
  if (!i18n.te(key) && !i18n.te(key, 'zh-CN')) return fallback || reason.code;
  const params: Record<string, string | number> = {};
  for (const [name, value] of Object.entries(reason.params ?? {})) {
    if (Array.isArray(value)) params[name] = value.map((v) => renderReason(i18n, v)).join(i18n.t('reason.separator'));
    else if (isReason(value)) params[name] = renderReason(i18n, value);
    else params[name] = value;
  }
  return i18n.t(key, params);
}
