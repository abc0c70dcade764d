// The hub panel: who the hub is, how busy it is, what the data plane counted.
// The server's own list of counters, for their labels (bundled: a small module without Node.js).
import { counterLabel } from '../../../src/dataplane/counters.js';
import { api } from '../api.js';
import { copyButton, h, replace, setText } from '../dom.js';
import { formatAge, formatBytes, formatDuration, formatTimestamp } from '../format.js';
import type { LiveNodes } from '../live.js';
import type { DashboardHub } from '../types.js';

/** With hubs sharing a registry, their roles are read again this often (a takeover changes no node). */
const HA_REFRESH_MS = 5000;

export class HubPanel {
  readonly el = h('section', { class: 'card hub', attrs: { 'data-testid': 'hub-panel' } });
  /** The counters' <details> is rebuilt every second; its open state must survive that. */
  private countersOpen = false;
  /** The hub is sent only when it changed: the uptime moves on from when it last came. */
  private receivedAt = Date.now();
  private uptime: HTMLElement | null = null;
  private haReadAt = Date.now();

  constructor(private readonly live: LiveNodes) {
    live.onChange((c) => c.hub && this.render());
    this.render();
  }

  /** Moves the uptime on with the clock. */
  tick(now = Date.now()): void {
    const hub = this.live.hub;
    if (hub && this.uptime) setText(this.uptime, formatDuration(hub.uptime_seconds + Math.round((now - this.receivedAt) / 1000)));
    if (hub?.ha && now - this.haReadAt >= HA_REFRESH_MS) {
      this.haReadAt = now;
      api.hub().then(
        (fresh) => this.live.updateHub(fresh),
        () => {}, // the stream's own reconnection says when the hub is away
      );
    }
  }

  private render(): void {
    this.receivedAt = Date.now();
    const hub = this.live.hub;
    if (!hub) {
      replace(this.el, h('p', { class: 'muted' }, 'Connecting to the hub…'));
      return;
    }
    replace(
      this.el,
      h('div', { class: 'stats' }, ...this.stats(hub)),
      h(
        'dl',
        { class: 'facts' },
        h('dt', null, 'Public key'),
        h('dd', null, h('code', { class: 'mono', attrs: { 'data-testid': 'hub-public-key' } }, hub.public_key), ' ', copyButton(() => hub.public_key)),
        h('dt', null, 'Endpoint'),
        h('dd', null, h('code', null, hub.endpoint)),
        h('dt', null, 'Subnet'),
        h('dd', null, `${hub.subnet} (hub ${hub.hub_address})`),
      ),
      this.hubs(hub),
      this.counters(hub),
    );
  }

  private stats(hub: DashboardHub): HTMLElement[] {
    const stat = (label: string, value: string, testid: string) => {
      const el = h('div', { class: 'value', attrs: { 'data-testid': testid } }, value);
      if (testid === 'hub-uptime') this.uptime = el;
      return h('div', { class: 'stat' }, el, h('div', { class: 'label' }, label));
    };
    return [
      stat('peers online', `${hub.peers_online} / ${hub.peers_total}`, 'hub-peers'),
      stat('received', formatBytes(hub.rx_bytes), 'hub-rx'),
      stat('sent', formatBytes(hub.tx_bytes), 'hub-tx'),
      stat('handshakes', String(hub.handshakes), 'hub-handshakes'),
      stat('uptime', formatDuration(hub.uptime_seconds), 'hub-uptime'),
      stat('UDP port', String(hub.listen_port), 'hub-port'),
    ];
  }

  /** Hubs sharing the registry: which one runs the device, since when, and whether the others are ready. */
  private hubs(hub: DashboardHub): HTMLElement | null {
    const ha = hub.ha;
    if (!ha) return null;
    const now = Date.now();
    const active = ha.active_hub
      ? `${ha.active_hub} since ${formatTimestamp(ha.active_since!)}, lease until ${formatTimestamp(ha.lease_expires_at!)}`
      : 'none: the lease is free, a hub takes it within seconds';
    const state = { active: 'active: runs the device', standby: 'standby: ready to take over', away: 'away: not heard from' } as const;
    return h(
      'div',
      { class: 'ha', attrs: { 'data-testid': 'hub-ha' } },
      h(
        'dl',
        { class: 'facts' },
        h('dt', null, 'This hub'),
        h('dd', { attrs: { 'data-testid': 'hub-role' } }, `${ha.hub_id} (${ha.role})`),
        h('dt', null, 'Active hub'),
        h('dd', { attrs: { 'data-testid': 'hub-active' } }, active),
      ),
      h(
        'table',
        { class: 'hubs' },
        h('thead', null, h('tr', null, ...['Hub', 'State', 'Endpoint', 'API', 'Last claim'].map((t) => h('th', { attrs: { scope: 'col' } }, t)))),
        h(
          'tbody',
          null,
          ...ha.hubs.map((x) =>
            h(
              'tr',
              { attrs: { 'data-hub': x.hub_id } },
              h('td', null, x.hub_id),
              h('td', { class: `state-${x.state}` }, state[x.state]),
              h('td', null, h('code', null, x.endpoint)),
              h('td', null, h('code', null, x.api_url)),
              h('td', { attrs: { title: formatTimestamp(x.seen_at) } }, formatAge(x.seen_at, now)),
            ),
          ),
        ),
      ),
    );
  }

  private counters(hub: DashboardHub): HTMLElement {
    const entries = Object.entries(hub.counters).sort(([a], [b]) => a.localeCompare(b));
    const nonzero = entries.filter(([, v]) => v > 0);
    const details = h(
      'details',
      { class: 'counters', attrs: { open: this.countersOpen } },
      h('summary', null, `Data-plane counters (${nonzero.length} non-zero)`),
      h('table', null, h('tbody', null, ...entries.map(([k, v]) => h('tr', null, h('th', { attrs: { scope: 'row' } }, counterLabel(k)), h('td', { class: 'num' }, String(v)))))),
    );
    details.addEventListener('toggle', () => (this.countersOpen = details.open));
    return details;
  }
}
