// The dashboard: sign in, then the hub panel and the nodes table, a register form and a page per
// node, switched by the URL's hash (#/, #/register, #/node/<id>). Everything live comes from one
// server-sent event stream.
import './style.css';
import { api } from './api.js';
import { h, replace } from './dom.js';
import { LiveNodes, type Connection } from './live.js';
import type { SessionState } from './types.js';
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
  let session: SessionState;
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
  const main = h('main');
  const pages = new Pages(live, main);
  const nav = h(
    'nav',
    null,
    h('a', { attrs: { href: '#/' } }, 'Nodes'),
    h('a', { class: 'button', attrs: { href: '#/register', 'data-testid': 'register-link' } }, 'Register node'),
    h('button', { class: 'secondary', attrs: { type: 'button', 'data-testid': 'sign-out' }, on: { click: () => void signOut() } }, 'Sign out'),
  );
  let stopped = false;
  const connection = connectionStatus(live, () => stopped);
  replace(root, h('header', null, h('a', { class: 'brand', attrs: { href: '#/' } }, 'WireGuard hub'), connection, h('div', { class: 'grow' }), nav), main);

  const onSignedOut = () => void start();
  window.addEventListener('wgvm:signed-out', onSignedOut);
  live.start();
  const route = () => {
    pages.show(location.hash);
    for (const a of nav.querySelectorAll('a')) a.classList.toggle('active', a.getAttribute('href') === (location.hash || '#/'));
  };
  window.onhashchange = route;
  route();
  // Ages ("12 s ago") move with the clock, not with events.
  const clock = setInterval(() => pages.tick(), 1000);
  stopDashboard = () => {
    stopped = true;
    live.stop();
    pages.dispose();
    clearInterval(clock);
    window.removeEventListener('wgvm:signed-out', onSignedOut);
    window.onhashchange = null;
  };
}

async function signOut(): Promise<void> {
  await api.signOut().catch(() => {});
  location.hash = '';
  void start();
}

/** What the page shows for a hash: the hub and the nodes (#/), the register form, or one node. */
class Pages {
  private readonly hub: HubPanel;
  private readonly table: NodesTable;
  private detail: NodeDetail | null = null;

  constructor(
    private readonly live: LiveNodes,
    private readonly main: HTMLElement,
  ) {
    this.hub = new HubPanel(live);
    this.table = new NodesTable(live);
  }

  show(hash: string): void {
    this.dispose();
    const nodeMatch = /^#\/node\/(.+)$/.exec(hash);
    if (nodeMatch) {
      this.detail = new NodeDetail(decodeURIComponent(nodeMatch[1]!), this.live, () => (location.hash = '#/'));
      replace(this.main, this.detail.el);
    } else if (hash === '#/register') {
      replace(this.main, registerView(this.live));
    } else {
      replace(this.main, this.hub.el, this.table.el);
    }
  }

  tick(): void {
    this.hub.tick();
    this.table.tick();
    this.detail?.tick();
  }

  dispose(): void {
    this.detail?.dispose();
    this.detail = null;
  }
}

/** The live/connecting badge; when the server refuses the stream, asks again shortly. */
function connectionStatus(live: LiveNodes, stopped: () => boolean): HTMLElement {
  const el = h('span', { class: 'connection', attrs: { 'data-testid': 'connection', role: 'status' } });
  const show = (c: Connection) => {
    el.textContent = { connecting: 'connecting…', live: 'live', reconnecting: 'reconnecting…', closed: 'disconnected' }[c];
    el.className = `connection ${c}`;
  };
  live.onConnection((c) => {
    show(c);
    // The stream was refused: signed out elsewhere or expired, or too many tabs; ask again shortly.
    if (c === 'closed') {
      setTimeout(async () => {
        if (stopped()) return;
        const s = await api.session().catch(() => null);
        if (stopped()) return;
        if (s && !s.signed_in) void start();
        else live.start();
      }, 3000);
    }
  });
  show(live.connection);
  return el;
}

void start();
