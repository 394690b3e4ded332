/**
 * The live alarm list: the first page from GET /api/alarms, then every `alarm` pushed on the event socket;
 * after a reconnect the page is loaded again (the socket may have missed alarms while it was down). New
 * alarms that arrive live are handed to `onFresh` (the wall opens their camera in the alarm tile).
 */
import { computed, ref, watch } from 'vue';
import type { AlarmEvent } from '../../api/types';
import { gatewayEvents } from '../../composables/gateway-events';
import type { ShownError } from '../../api/error-text';
import { freshAlarms, mergeAlarms, unacknowledgedCount } from './alarm-list';
import { channelDirectory } from './channel-directory';
import { acknowledgeAlarm, listAlarms } from './wall-api';

export function createAlarmFeed(onFresh: (alarm: AlarmEvent) => void) {
  const socket = gatewayEvents();
  const alarms = ref<AlarmEvent[]>([]);
  // Kept as the error itself and rendered while rendering (errorText): in the page's language, also after a switch.
  const loadError = ref<ShownError>(null);
  const loaded = ref(false);

  /** The list names cameras, not 20-digit IDs: learn the sources' names (the newest 50 are what is on screen). */
  function learnSources(list: readonly AlarmEvent[]): void {
    const ids = new Set(list.slice(0, 50).map((a) => a.sourceId));
    for (const id of ids) if (!channelDirectory.get(id)) void channelDirectory.ensure(id);
  }

  async function reload(): Promise<void> {
    try {
      const page = await listAlarms(100);
      alarms.value = mergeAlarms(alarms.value, page.items);
      learnSources(alarms.value);
      loadError.value = null;
      loaded.value = true;
    } catch (err) {
      loadError.value = err as Error;
    }
  }

  const offAlarm = socket.on('alarm', (data) => {
    const alarm = data as AlarmEvent;
    const fresh = freshAlarms(alarms.value, [alarm]);
    alarms.value = mergeAlarms(alarms.value, [alarm]);
    learnSources([alarm]);
    for (const a of fresh) onFresh(a);
  });
  // The gateway escalates alarms nobody acknowledged (alarms.escalateAfterMin) and resolves them on
  // acknowledgement; the list marks them as it happens, without a threshold of its own.
  const offEscalation = socket.on('health-alert', (data) => {
    const event = data as { event?: string; alert?: { kind?: string; alarmId?: string; firedAt?: number } } | null;
    const alarmId = event?.alert?.alarmId;
    if (event?.alert?.kind !== 'alarm-unacknowledged' || !alarmId) return;
    const escalatedAt = event.event === 'fired' || event.event === 'reminder' ? (event.alert.firedAt ?? Date.now()) : null;
    alarms.value = alarms.value.map((a) => (a.id === alarmId ? { ...a, escalatedAt } : a));
  });
  // Every (re)connect reloads: alarms raised between the first load and the socket opening are not lost either.
  const stopWatch = watch(socket.connectedAt, (at) => {
    if (at !== null) void reload();
  });
  void reload();

  async function acknowledge(id: string, note: string | null): Promise<AlarmEvent> {
    const updated = await acknowledgeAlarm(id, note);
    alarms.value = mergeAlarms(alarms.value, [updated]);
    return updated;
  }

  function dispose(): void {
    offAlarm();
    offEscalation();
    stopWatch();
  }

  return {
    alarms,
    loaded,
    loadError,
    socketState: socket.state,
    unacknowledged: computed(() => unacknowledgedCount(alarms.value)),
    reload,
    acknowledge,
    dispose,
  };
}

export type AlarmFeed = ReturnType<typeof createAlarmFeed>;
