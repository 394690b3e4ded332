/**
 * Screens and who may see them. Hash history: the gateway serves one index.html at "/" and links such as a
 * session's join link (#/join/123456) work without server-side rewrites behind any proxy.
 */
import { createRouter, createWebHashHistory } from 'vue-router';
import { auth } from './composables/auth';
import LoginPage from './pages/LoginPage.vue';

export const router = createRouter({
  history: createWebHashHistory(),
  routes: [
    { path: '/', redirect: '/wall' },
    { path: '/login', name: 'login', component: LoginPage, meta: { public: true } },
    { path: '/wall', name: 'wall', component: () => import('./pages/wall/WallPage.vue') },
    { path: '/sessions', name: 'sessions', component: () => import('./pages/session/SessionListPage.vue') },
    { path: '/sessions/:id', name: 'session', component: () => import('./pages/session/SessionPage.vue'), meta: { guestAllowed: true } },
    { path: '/join/:code?', name: 'join', component: () => import('./pages/session/JoinPage.vue'), meta: { public: true } },
    { path: '/health', name: 'health', component: () => import('./pages/health/HealthPage.vue') },
    { path: '/health/channels/:id', name: 'channel-health', component: () => import('./pages/health/ChannelHealthPage.vue') },
    // A wall PC's kiosk URL: signs in with its device token itself (hence public), then shows a saved view.
    { path: '/kiosk', name: 'kiosk', component: () => import('./pages/kiosk/KioskPage.vue'), meta: { public: true } },
    { path: '/users', name: 'users', component: () => import('./pages/users/UsersPage.vue'), meta: { adminOnly: true } },
    { path: '/diagnostics/players', name: 'player-grid', component: () => import('./pages/diagnostics/PlayerGridPage.vue') },
    { path: '/:pathMatch(.*)*', redirect: '/wall' },
  ],
});

router.beforeEach((to) => {
  if (to.meta.public) return true;
  const current = auth.state.current;
  if (!current) return { name: 'login', query: { next: to.fullPath } };
  // A kiosk sign-in is good for the kiosk wall only.
  if (current.kiosk) return { name: 'kiosk' };
  // A guest token is good for its own session page only.
  if (current.role === 'guest') {
    if (to.meta.guestAllowed && to.params.id === current.sessionId) return true;
    return { name: 'session', params: { id: current.sessionId } };
  }
  if (to.meta.adminOnly && current.role !== 'admin') return { name: 'wall' };
  return true;
});
