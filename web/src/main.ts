// The dashboard: sign in, then the hub panel and the nodes table, a register form and a page per
// node, switched by the URL's hash (#/, #/register, #/node/<id>). Everything live comes from one
// server-sent event stream.
import './style.css';
import { api } from './api.js';
import { h, replace } from './dom.js';
import { LiveNodes, type Connection } from './live.js';
import { NodeDetail } from './views/detail.js';
import { HubPanel } from './views/hub.js';
import { NodesTable } from './views/nodes.js';
import { registerView } from './views/register.js';
import { signInView } from './views/signin.js';

const root = document.getElementById('app')!;
/** Ends the running dashboard (its stream and timers) before the page shows something else. */
let stopDashboard: (() => void) | null = null;

async function start(): Promise<void> {
  stopDashboard?.();
  stopDashboard = null;
  let session: { signed_in: boolean; password_enabled: boolean };
  try {
    session = await api.session();
  } catch (err) {
    replace(root, h('main', { class: 'center' }, h('p', { class: 'error' }, err instanceof Error ? err.message : String(err))));
    return;
  }
  if (!session.signed_in) {
    replace(root, signInView(session.password_enabled, () => void start()));
    return;
  }
  dashboard();
}

function dashboard(): void {
  const live = new LiveNodes();
  const hub = new HubPanel(live);
  const table = new NodesTable(live);
  const main = h('main');
  const connection = h('span', { class: 'connection', attrs: { 'data-testid': 'connection', role: 'status' } });
  const showConnection = (c: Connection) => {
    connection.textContent = { connecting: 'connecting…', live: 'live', reconnecting: 'reconnecting…', closed: 'disconnected' }[c];
    connection.className = `connection ${c}`;
  };
  let detail: NodeDetail | null = null;
  let stopped = false;

  const route = () => {
    detail?.dispose();
    detail = null;
    const hash = location.hash;
    const nodeMatch = /^#\/node\/(.+)$/.exec(hash);
    if (nodeMatch) {
      detail = new NodeDetail(decodeURIComponent(nodeMatch[1]!), live, () => (location.hash = '#/'));
      replace(main, detail.el);
    } else if (hash === '#/register') {
      replace(main, registerView(live));
    } else {
      replace(main, hub.el, table.el);
    }
    for (const a of nav.querySelectorAll('a')) a.classList.toggle('active', a.getAttribute('href') === (hash || '#/'));
  };

  const signOut = async () => {
    await api.signOut().catch(() => {});
    location.hash = '';
    void start();
  };
  const nav = h(
    'nav',
    null,
    h('a', { attrs: { href: '#/' } }, 'Nodes'),
    h('a', { class: 'button', attrs: { href: '#/register', 'data-testid': 'register-link' } }, 'Register node'),
    h('button', { class: 'secondary', attrs: { type: 'button', 'data-testid': 'sign-out' }, on: { click: () => void signOut() } }, 'Sign out'),
  );
  replace(root, h('header', null, h('a', { class: 'brand', attrs: { href: '#/' } }, 'WireGuard hub'), connection, h('div', { class: 'grow' }), nav), main);

  live.onConnection((c) => {
    showConnection(c);
    // The stream was refused: signed out elsewhere or expired, or too many tabs; ask again shortly.
    if (c === 'closed') {
      setTimeout(async () => {
        if (stopped) return;
        const s = await api.session().catch(() => null);
        if (stopped) return;
        if (s && !s.signed_in) void start();
        else live.start();
      }, 3000);
    }
  });
  const onSignedOut = () => void start();
  window.addEventListener('wgvm:signed-out', onSignedOut);
  showConnection(live.connection);
  live.start();
  window.onhashchange = route;
  route();
  // Ages ("12 s ago") move with the clock, not with events.
  const clock = setInterval(() => {
    table.tick();
    detail?.tick();
  }, 1000);
  stopDashboard = () => {
    stopped = true;
    live.stop();
    detail?.dispose();
    clearInterval(clock);
    window.removeEventListener('wgvm:signed-out', onSignedOut);
    window.onhashchange = null;
  };
}

void start();
