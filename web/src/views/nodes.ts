// The nodes table: filtered by text and status, sorted by any column, shown a page of PAGE_SIZE rows
// at a time and kept up to date cell by cell from the live feed. Only the rows of the page shown
// exist in the document, and a live change moves the changed nodes in the sorted order instead of
// sorting the fleet again, so 10,000 nodes updating every second stay cheap.
import { h, setText } from '../dom.js';
import { formatAge, formatBytes, formatTimestamp, pathSummary } from '../format.js';
import type { LiveChange, LiveNodes } from '../live.js';
import type { NodeStatus, NodeView } from '../types.js';

/** Rows on one page of the table. */
export const PAGE_SIZE = 100;
/** More changed nodes than this in one event: sorting everything again is cheaper than moving each. */
const MOVE_LIMIT = 200;

type Column = 'node_id' | 'description' | 'vpn_ip' | 'status' | 'paths' | 'last_handshake' | 'rx_bytes' | 'tx_bytes' | 'endpoint' | 'central_server_url';

const COLUMNS: Array<{ key: Column; label: string; numeric?: boolean }> = [
  { key: 'node_id', label: 'Node ID' },
  { key: 'description', label: 'Description' },
  { key: 'vpn_ip', label: 'VPN IP' },
  { key: 'status', label: 'Status' },
  { key: 'paths', label: 'Paths' },
  { key: 'last_handshake', label: 'Last handshake' },
  { key: 'rx_bytes', label: 'Received', numeric: true },
  { key: 'tx_bytes', label: 'Sent', numeric: true },
  { key: 'endpoint', label: 'Endpoint' },
  { key: 'central_server_url', label: 'Central server' },
];

const STATUS_ORDER: Record<NodeStatus, number> = { online: 0, pending: 1, offline: 2, disabled: 3 };

const ipValue = (ip: string) => ip.split('.').reduce((v, octet) => v * 256 + Number(octet), 0);
const text = new Intl.Collator(undefined, { numeric: true, sensitivity: 'base' });

function compare(a: NodeView, b: NodeView, key: Column): number {
  switch (key) {
    case 'vpn_ip':
      return ipValue(a.vpn_ip) - ipValue(b.vpn_ip);
    case 'status':
      return STATUS_ORDER[a.status] - STATUS_ORDER[b.status];
    case 'last_handshake':
      return (a.last_handshake ? Date.parse(a.last_handshake) : 0) - (b.last_handshake ? Date.parse(b.last_handshake) : 0);
    case 'rx_bytes':
    case 'tx_bytes':
      return a[key] - b[key];
    case 'paths':
      return text.compare(pathSummary(a), pathSummary(b));
    default:
      return text.compare(a[key] ?? '', b[key] ?? '');
  }
}

interface Row {
  tr: HTMLTableRowElement;
  cells: Record<Column, HTMLTableCellElement>;
  status: HTMLSpanElement;
  link: HTMLAnchorElement;
  /** The node's DNS name under its ID (empty while the hub's DNS is off). */
  dnsName: HTMLSpanElement;
}

export class NodesTable {
  readonly el: HTMLElement;
  private readonly tbody = h('tbody');
  /** The rows of the page shown, by node ID. */
  private readonly rows = new Map<string, Row>();
  private readonly count = h('span', { class: 'muted', attrs: { 'data-testid': 'node-count' } });
  private readonly empty = h('p', { class: 'empty' });
  private readonly pageInfo = h('span', { class: 'muted', attrs: { 'data-testid': 'page-info' } });
  private readonly prev = h('button', { class: 'secondary', attrs: { type: 'button', 'data-testid': 'page-prev' }, on: { click: () => this.turn(-1) } }, 'Previous');
  private readonly next = h('button', { class: 'secondary', attrs: { type: 'button', 'data-testid': 'page-next' }, on: { click: () => this.turn(1) } }, 'Next');
  private readonly pager = h('div', { class: 'pager', attrs: { 'data-testid': 'pager' } }, this.prev, this.pageInfo, this.next);
  private readonly headers = new Map<Column, HTMLTableCellElement>();
  private sortKey: Column = 'node_id';
  private ascending = true;
  private query = '';
  private statusFilter: NodeStatus | 'all' = 'all';
  /** Every node that matches the filters, in the sorted order. */
  private order: string[] = [];
  private page = 0;
  /** The node IDs the page shows, in order: the rows move only when this changes. */
  private shown: string[] = [];

  constructor(private readonly live: LiveNodes) {
    const search = h('input', {
      attrs: { type: 'search', placeholder: 'Filter by ID, description, address…', 'aria-label': 'Filter nodes', 'data-testid': 'filter' },
    });
    search.addEventListener('input', () => {
      this.query = search.value.trim().toLowerCase();
      this.page = 0;
      this.arrange();
    });
    const status = h(
      'select',
      { attrs: { 'aria-label': 'Filter by status', 'data-testid': 'status-filter' } },
      ...['all', 'online', 'offline', 'pending', 'disabled'].map((s) => h('option', { attrs: { value: s } }, s === 'all' ? 'All statuses' : s)),
    );
    status.addEventListener('change', () => {
      this.statusFilter = status.value as NodeStatus | 'all';
      this.page = 0;
      this.arrange();
    });
    const head = h(
      'tr',
      null,
      ...COLUMNS.map((c) => {
        const th = h('th', { class: c.numeric ? 'num' : '', attrs: { scope: 'col', 'aria-sort': 'none' } });
        th.append(h('button', { class: 'sort', attrs: { type: 'button' }, on: { click: () => this.sortBy(c.key) } }, c.label));
        this.headers.set(c.key, th);
        return th;
      }),
    );
    this.el = h(
      'section',
      { class: 'card nodes' },
      h('div', { class: 'toolbar' }, h('h2', null, 'Nodes'), this.count, h('div', { class: 'grow' }), search, status),
      h('div', { class: 'table-wrap' }, h('table', { attrs: { 'data-testid': 'nodes-table' } }, h('thead', null, head), this.tbody)),
      this.empty,
      this.pager,
    );
    live.onChange((c) => this.apply(c));
    this.arrange();
    this.showSort();
  }

  /** Re-renders what depends on the clock (handshake ages), on the page shown. */
  tick(now = Date.now()): void {
    for (const [id, row] of this.rows) {
      const n = this.live.nodes.get(id);
      if (n) setText(row.cells.last_handshake, formatAge(n.last_handshake, now));
    }
  }

  private apply(c: LiveChange): void {
    if (c.reset || c.changed.length + c.removed.length > MOVE_LIMIT) {
      this.arrange();
      return;
    }
    if (c.changed.length === 0 && c.removed.length === 0) return;
    // All out first, so that the rest of the order is sorted when each goes back in.
    const moved = new Set([...c.removed, ...c.changed]);
    this.order = this.order.filter((id) => !moved.has(id));
    for (const id of c.changed) this.insert(id);
    this.render();
  }

  /** Puts the node, if it still exists and matches, where it sorts among the others. */
  private insert(id: string): void {
    const n = this.live.nodes.get(id);
    if (!n || !this.matches(n)) return;
    let lo = 0;
    let hi = this.order.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.compare(this.live.nodes.get(this.order[mid]!)!, n) <= 0) lo = mid + 1;
      else hi = mid;
    }
    this.order.splice(lo, 0, id);
  }

  private compare(a: NodeView, b: NodeView): number {
    return (this.ascending ? 1 : -1) * compare(a, b, this.sortKey) || text.compare(a.node_id, b.node_id);
  }

  private create(id: string): Row {
    // data-label: on a phone each row becomes a card, and the labels come from the cells.
    const cells = Object.fromEntries(COLUMNS.map((c) => [c.key, h('td', { class: `${c.numeric ? 'num ' : ''}col-${c.key}`, attrs: { 'data-label': c.label } })])) as Record<Column, HTMLTableCellElement>;
    const link = h('a', { attrs: { href: `#/node/${encodeURIComponent(id)}` } }, id);
    const dnsName = h('span', { class: 'dns-name muted', attrs: { 'data-field': 'dns_name' } });
    cells.node_id.append(link, dnsName);
    const status = h('span', { class: 'badge' });
    cells.status.append(status);
    const tr = h('tr', { attrs: { 'data-node-id': id } }, ...COLUMNS.map((c) => cells[c.key]));
    return { tr, cells, status, link, dnsName };
  }

  private fill(row: Row, n: NodeView, now: number): void {
    const c = row.cells;
    setText(row.dnsName, n.dns_name ?? '');
    setText(c.description, n.description);
    setText(c.vpn_ip, n.vpn_ip);
    setText(row.status, n.status);
    row.status.className = `badge status-${n.status}`;
    setText(c.paths, pathSummary(n));
    setText(c.last_handshake, formatAge(n.last_handshake, now));
    c.last_handshake.title = n.last_handshake ? formatTimestamp(n.last_handshake) : '';
    setText(c.rx_bytes, formatBytes(n.rx_bytes));
    setText(c.tx_bytes, formatBytes(n.tx_bytes));
    setText(c.endpoint, n.endpoint ?? '–');
    setText(c.central_server_url, n.central_server_url ?? '–');
  }

  private sortBy(key: Column): void {
    if (this.sortKey === key) this.ascending = !this.ascending;
    else {
      this.sortKey = key;
      this.ascending = true;
    }
    this.showSort();
    this.arrange();
  }

  private showSort(): void {
    for (const [key, th] of this.headers) th.setAttribute('aria-sort', key === this.sortKey ? (this.ascending ? 'ascending' : 'descending') : 'none');
  }

  private matches(n: NodeView): boolean {
    if (this.statusFilter !== 'all' && n.status !== this.statusFilter) return false;
    if (!this.query) return true;
    return [n.node_id, n.dns_name ?? '', n.description, n.vpn_ip, n.endpoint ?? '', n.central_server_url ?? '', n.public_key].some((f) => f.toLowerCase().includes(this.query));
  }

  /** Filters and sorts every node, then shows the page. */
  private arrange(): void {
    this.order = [...this.live.nodes.values()]
      .filter((n) => this.matches(n))
      .sort((a, b) => this.compare(a, b))
      .map((n) => n.node_id);
    this.render();
  }

  private turn(by: number): void {
    this.page += by;
    this.render();
  }

  /** Shows the page's rows (made for it, filled from the live data), the counts and the pager. */
  private render(): void {
    const pages = Math.max(1, Math.ceil(this.order.length / PAGE_SIZE));
    this.page = Math.min(Math.max(0, this.page), pages - 1);
    const first = this.page * PAGE_SIZE;
    const ids = this.order.slice(first, first + PAGE_SIZE);
    const now = Date.now();
    for (const id of [...this.rows.keys()]) if (!ids.includes(id)) this.rows.delete(id);
    for (const id of ids) {
      let row = this.rows.get(id);
      if (!row) this.rows.set(id, (row = this.create(id)));
      this.fill(row, this.live.nodes.get(id)!, now);
    }
    if (ids.length !== this.shown.length || ids.some((id, i) => id !== this.shown[i])) {
      this.tbody.replaceChildren(...ids.map((id) => this.rows.get(id)!.tr));
      this.shown = ids;
    }
    const total = this.live.nodes.size;
    const visible = this.order.length;
    setText(this.count, visible === total ? `${total} node${total === 1 ? '' : 's'}` : `${visible} of ${total} nodes`);
    setText(this.empty, total === 0 ? 'No nodes yet. Register the first one with “Register node”.' : visible === 0 ? 'No node matches the filter.' : '');
    this.empty.hidden = visible > 0;
    this.pager.hidden = pages === 1;
    setText(this.pageInfo, `${visible === 0 ? 0 : first + 1}–${first + ids.length} of ${visible}`);
    this.prev.disabled = this.page === 0;
    this.next.disabled = this.page >= pages - 1;
  }
}
