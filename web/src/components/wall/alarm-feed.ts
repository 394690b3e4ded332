/**
 * The live alarm list: the first page from GET /api/alarms, then every `alarm` pushed on the event socket;
 * after a reconnect the page is loaded again (the socket may have missed alarms while it was down). New
 * alarms that arrive live are handed to `onFresh` (the wall opens their camera in the alarm tile).
 */
import { computed, ref, watch } from 'vue';
import type { AlarmEvent } from '../../api/types';
import { gatewayEvents } from '../../composables/gateway-events';
import { freshAlarms, mergeAlarms, unacknowledgedCount } from './alarm-list';
import { acknowledgeAlarm, listAlarms } from './wall-api';

export function createAlarmFeed(onFresh: (alarm: AlarmEvent) => void) {
  const socket = gatewayEvents();
  const alarms = ref<AlarmEvent[]>([]);
  const loadError = ref<string | null>(null);
  const loaded = ref(false);

  async function reload(): Promise<void> {
    try {
      const page = await listAlarms(100);
      alarms.value = mergeAlarms(alarms.value, page.items);
      loadError.value = null;
      loaded.value = true;
    } catch (err) {
      loadError.value = (err as Error).message;
    }
  }

  const offAlarm = socket.on('alarm', (data) => {
    const alarm = data as AlarmEvent;
    const fresh = freshAlarms(alarms.value, [alarm]);
    alarms.value = mergeAlarms(alarms.value, [alarm]);
    for (const a of fresh) onFresh(a);
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
