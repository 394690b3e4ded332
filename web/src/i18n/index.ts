/**
 * Message catalogues: zh-CN first (the default), English second. One file per feature and locale
 * (common, wall, session, health) so each screen's strings live next to each other; the English files are
 * typed against the Chinese ones, so a missing key fails the type check.
 */
import { createI18n } from 'vue-i18n';
import zhCommon from './zh-CN/common';
import enCommon from './en/common';
import zhWall from './zh-CN/wall';
import enWall from './en/wall';
import zhSession from './zh-CN/session';
import enSession from './en/session';
import zhHealth from './zh-CN/health';
import enHealth from './en/health';
import zhPlayer from './zh-CN/player';
import enPlayer from './en/player';
import zhErrors from './zh-CN/errors';
import enErrors from './en/errors';
import zhUsers from './zh-CN/users';
import enUsers from './en/users';
import zhReasonHealth from './zh-CN/reason-health';
import enReasonHealth from './en/reason-health';

export type Locale = 'zh-CN' | 'en';
const STORAGE_KEY = 'sharp-eyes.locale';

const zh = { ...zhCommon, wall: zhWall, session: zhSession, health: zhHealth, player: zhPlayer, users: zhUsers, reason: { ...zhReasonHealth }, error: zhErrors };
const en = { ...enCommon, wall: enWall, session: enSession, health: enHealth, player: enPlayer, users: enUsers, reason: { ...enReasonHealth }, error: enErrors };

function initialLocale(): Locale {
  const saved = localStorage.getItem(STORAGE_KEY);
  return saved === 'en' || saved === 'zh-CN' ? saved : 'zh-CN';
}

export const i18n = createI18n({
  legacy: false,
  locale: initialLocale(),
  fallbackLocale: 'zh-CN',
  messages: { 'zh-CN': zh, en },
});

export function setLocale(locale: Locale): void {
  i18n.global.locale.value = locale;
  localStorage.setItem(STORAGE_KEY, locale);
  document.documentElement.lang = locale;
}
