/**
 * An API error as the user reads it: the gateway sends `{ code, params }` (gateway/src/api/errors.ts) and the
 * catalogues say it in the page's language (`error.<code>`, web/src/i18n/<locale>/errors.ts). The gateway's
 * English `message` is for integrators and logs and is never shown: an unknown code falls back to the
 * status's generic sentence. Call it while rendering (not once when the error happens), so a language switch
 * re-renders the error too.
 */
import { i18n } from '../i18n';
import { ApiError } from './http';

/** What a page keeps to show an error: an API error, or one of its own catalogue keys with params. */
export type ShownError = ApiError | { key: string; params?: Record<string, string | number> } | Error | null;

const STATUS_CODES: Record<number, string> = { 400: 'validation.invalid', 401: 'unauthorized', 403: 'forbidden', 404: 'not-found', 409: 'conflict', 429: 'rate-limited', 500: 'internal', 502: 'upstream', 503: 'unavailable' };

/** `field` params name the form's field, not the gateway's path ("body.name" → 名称). */
function localisedParams(params: Record<string, string | number> | undefined): Record<string, string | number> {
  const out: Record<string, string | number> = { ...(params ?? {}) };
  const { te, t } = i18n.global;
  if (typeof out.field === 'string') {
    const key = `error.field.${out.field}`;
    // Field paths contain dots: look them up as one key of the `field` object, not as a nested path.
    const fields = i18n.global.getLocaleMessage(i18n.global.locale.value).error?.field as Record<string, string> | undefined;
    out.field = fields?.[out.field] ?? (te(key) ? t(key) : out.field);
  }
  return out;
}

export function errorText(error: ShownError): string {
  const { t, te } = i18n.global;
  if (error === null) return '';
  if (!(error instanceof Error)) return t(error.key, error.params ?? {});
  if (error instanceof ApiError) {
    const body = error.body as { code?: unknown; params?: Record<string, string | number> } | null;
    const code = typeof body?.code === 'string' ? body.code : null;
    if (code && te(`error.${code}`)) return t(`error.${code}`, localisedParams(body?.params));
    const byStatus = STATUS_CODES[error.status];
    if (byStatus) return t(`error.${byStatus}`, { field: t('error.field.body'), retryAfterSec: '?' });
    return t('error.unknown', { status: error.status });
  }
  // fetch() itself failed (gateway unreachable) or a bug: never show the raw JavaScript message.
  return t('error.network');
}
