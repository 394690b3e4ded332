/** How a rule is named on screen: the rule a fresh install starts with in the user's language, until edited. */
import type { Composer } from 'vue-i18n';
import type { AlertRule } from '../../pages/health/health-api';

export function displayRuleName(t: Composer['t'], rule: Pick<AlertRule, 'name' | 'preset' | 'offlineMinutes'>): string {
  return rule.preset === 'default-offline' ? t('health.ops.defaultRuleName', { minutes: rule.offlineMinutes ?? '—' }) : rule.name;
}
