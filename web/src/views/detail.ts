// One node: its facts (live), traffic over the last hour, handshake history, and what an admin can
// do to it: enable/disable, rotate keys, a new install link, delete.
import { ApiError, api } from '../api.js';
import { trafficChart } from '../chart.js';
import { confirmDialog, copyButton, h, replace, setText } from '../dom.js';
import { formatAge, formatBytes, formatTimestamp } from '../format.js';
import type { LiveNodes } from '../live.js';
import type { NodeView } from '../types.js';
import { installPanel } from './install.js';

const HISTORY_REFRESH_MS = 10_000;

function agentText(n: NodeView): string {
  if (n.agent.reported_at) return `reporting (${n.agent.version ?? 'unknown version'}), last ${formatAge(n.agent.reported_at, Date.now())}`;
  if (n.agent.credential_issued_at) return 'installed, no report since the hub started';
  return 'none: every path goes through the hub (Windows, or wg-quick by hand)';
}

/** Each pair with another agent node, and since when; every other node goes through the hub. */
function pathList(n: NodeView): HTMLElement {
  const how = (p: NodeView['paths'][number]) =>
    p.state === 'direct' ? `direct, ${p.via === 'lan' ? 'over the LAN' : 'across NATs'}` : p.state === 'trying' ? `trying ${p.via === 'lan' ? 'the LAN' : 'through NATs'}` : 'through the hub';
  return h(
    'ul',
    { class: 'paths', attrs: { 'data-testid': 'paths' } },
    ...n.paths.map((p) => h('li', { attrs: { 'data-peer': p.peer, 'data-state': p.state } }, h('a', { attrs: { href: `#/node/${encodeURIComponent(p.peer)}` } }, p.peer), `: ${how(p)} since ${formatTimestamp(p.since)}`)),
    h('li', { class: 'muted' }, n.paths.length > 0 ? 'every other node: through the hub' : 'every node: through the hub'),
  );
}

export class NodeDetail {
  readonly el: HTMLElement;
  private readonly facts = h('dl', { class: 'facts' });
  private readonly title = h('h2');
  private readonly badge = h('span', { class: 'badge', attrs: { 'data-testid': 'detail-status' } });
  private readonly chart = h('div', { class: 'chart-wrap' });
  private readonly handshakes = h('ol', { class: 'handshakes', attrs: { 'data-testid': 'handshake-history' } });
  private readonly actions = h('div', { class: 'actions' });
  private readonly message = h('p', { class: 'error', attrs: { role: 'alert' } });
  private readonly install = h('div');
  private readonly timer: number;
  private readonly unsubscribe: () => void;

  constructor(
    private readonly id: string,
    private readonly live: LiveNodes,
    private readonly goHome: () => void,
  ) {
    this.el = h(
      'div',
      { class: 'detail-view', attrs: { 'data-testid': 'node-detail' } },
      h('p', null, h('a', { attrs: { href: '#/' } }, '← All nodes')),
      h('section', { class: 'card' }, h('div', { class: 'toolbar' }, this.title, this.badge), this.facts, this.actions, this.message),
      h('section', { class: 'card' }, h('h3', null, 'Traffic, last hour'), h('p', { class: 'legend' }, h('span', { class: 'rx' }, 'received'), ' ', h('span', { class: 'tx' }, 'sent')), this.chart),
      h('section', { class: 'card' }, h('h3', null, 'Handshakes'), this.handshakes),
      this.install,
    );
    this.unsubscribe = live.onChange((c) => {
      if (c.reset || c.changed.includes(id) || c.removed.includes(id)) this.renderNode();
    });
    this.renderNode();
    void this.loadHistory();
    this.timer = window.setInterval(() => void this.loadHistory(), HISTORY_REFRESH_MS);
  }

  dispose(): void {
    window.clearInterval(this.timer);
    this.unsubscribe();
  }

  tick(): void {
    const n = this.live.nodes.get(this.id);
    const age = this.el.querySelector('[data-field="last_handshake"]');
    if (n && age) setText(age, formatAge(n.last_handshake, Date.now()));
  }

  private renderNode(): void {
    const n = this.live.nodes.get(this.id);
    setText(this.title, this.id);
    if (!n) {
      setText(this.badge, this.live.connection === 'live' ? 'deleted' : '…');
      this.badge.className = 'badge status-disabled';
      replace(this.facts);
      replace(this.actions);
      return;
    }
    setText(this.badge, n.status);
    this.badge.className = `badge status-${n.status}`;
    const fact = (label: string, value: string | Node, field?: string) => [
      h('dt', null, label),
      h('dd', { attrs: field ? { 'data-field': field } : {} }, value),
    ];
    replace(
      this.facts,
      ...fact('Description', n.description || '–', 'description'),
      ...fact('VPN IP', n.vpn_ip),
      ...(n.dns_name ? fact('Name', n.dns_name, 'dns_name') : []),
      ...fact('Public key', h('span', null, h('code', { class: 'mono' }, n.public_key), ' ', copyButton(() => n.public_key))),
      ...fact('Last handshake', formatAge(n.last_handshake, Date.now()), 'last_handshake'),
      ...fact('Endpoint', n.answered_from ? `${n.endpoint ?? '–'} → hub ${n.answered_from}` : n.endpoint ?? '–', 'endpoint'),
      ...fact('Traffic', `${formatBytes(n.rx_bytes)} received, ${formatBytes(n.tx_bytes)} sent`),
      ...fact('Central server', n.central_server_url ?? '–'),
      ...fact('Registered', formatTimestamp(n.created_at)),
      ...fact('Keys', n.server_holds_private_key ? 'made by the hub' : 'the worker’s own (the hub never held its private key)'),
      ...fact('Agent', agentText(n), 'agent'),
      ...fact('Paths', pathList(n), 'paths'),
      ...fact('Isolated', n.isolated ? 'yes: reaches the hub only' : 'no', 'isolated'),
      ...fact('Direct paths', n.direct_paths ? 'allowed' : 'off: always relayed', 'direct_paths'),
    );
    this.renderActions(n);
  }

  private renderActions(n: NodeView): void {
    const act = (label: string, cls: string, testid: string, run: () => Promise<void>) => {
      const b = h('button', { class: cls, attrs: { type: 'button', 'data-testid': testid } }, label);
      b.addEventListener('click', async () => {
        b.disabled = true;
        this.message.textContent = '';
        try {
          await run();
        } catch (err) {
          this.message.textContent = err instanceof ApiError ? err.message : String(err);
        } finally {
          b.disabled = false;
        }
      });
      return b;
    };
    replace(
      this.actions,
      act(n.enabled ? 'Disable' : 'Enable', 'secondary', 'toggle-enabled', async () => {
        this.live.upsert((await api.setEnabled(this.id, !n.enabled)).node);
      }),
      act(n.isolated ? 'Stop isolating' : 'Isolate', 'secondary', 'toggle-isolated', async () => {
        this.live.upsert((await api.update(this.id, { isolated: !n.isolated })).node);
      }),
      act(n.direct_paths ? 'Direct paths off' : 'Direct paths on', 'secondary', 'toggle-direct-paths', async () => {
        this.live.upsert((await api.update(this.id, { direct_paths: !n.direct_paths })).node);
      }),
      n.agent.credential_issued_at
        ? act('Revoke agent', 'secondary', 'revoke-agent', async () => {
            const ok = await confirmDialog(`Revoke the agent credential of ${this.id}?`, 'Its agent drops its direct peers and everything goes through the hub; a new Linux installer brings a new credential.', 'Revoke');
            if (!ok) return;
            this.live.upsert((await api.revokeAgent(this.id)).node);
          })
        : null,
      act('New install link', 'secondary', 'new-install-link', async () => {
        const r = await api.installLink(this.id);
        replace(this.install, installPanel(this.id, r.install, n.server_holds_private_key));
      }),
      n.server_holds_private_key
        ? act('Rotate keys', 'secondary', 'rotate-keys', async () => {
            const ok = await confirmDialog(`Rotate the keys of ${this.id}?`, 'Its current config stops working at once; the worker must install the new one.', 'Rotate keys');
            if (!ok) return;
            const r = await api.rotateKeys(this.id);
            this.live.upsert(r.node);
            replace(this.install, installPanel(this.id, r.install, true));
          })
        : null,
      act('Delete', 'danger', 'delete-node', async () => {
        const ok = await confirmDialog(`Delete ${this.id}?`, 'Its tunnel stops at once and its address is freed. This cannot be undone.', 'Delete');
        if (!ok) return;
        await api.remove(this.id);
        this.live.remove(this.id);
        this.goHome();
      }),
    );
  }

  private async loadHistory(): Promise<void> {
    try {
      const { history } = await api.node(this.id);
      replace(this.chart, trafficChart(history));
      replace(
        this.handshakes,
        ...(history.handshakes.length === 0
          ? [h('li', { class: 'muted' }, 'No handshake yet.')]
          : history.handshakes.map((t) => h('li', null, formatTimestamp(t), h('span', { class: 'muted' }, ` (${formatAge(t, Date.now())})`)))),
      );
    } catch (err) {
      if (err instanceof ApiError && err.status === 404) return; // deleted: renderNode says so
      replace(this.chart, h('p', { class: 'error' }, err instanceof Error ? err.message : String(err)));
    }
  }
}
