// The shapes the dashboard app sends (src/http/dashboard.ts, nodeView in src/http/api.ts).

export type NodeStatus = 'online' | 'offline' | 'pending' | 'disabled';

export interface NodeView {
  node_id: string;
  description: string;
  central_server_url: string | null;
  vpn_ip: string;
  public_key: string;
  status: NodeStatus;
  enabled: boolean;
  last_handshake: string | null;
  rx_bytes: number;
  tx_bytes: number;
  endpoint: string | null;
  /** the hub's own address this node writes to, on a hub with several */
  answered_from: string | null;
  created_at: string;
  updated_at: string;
  server_holds_private_key: boolean;
}

export interface HubView {
  public_key: string;
  endpoint: string;
  listen_port: number;
  subnet: string;
  hub_address: string;
  peers_total: number;
  peers_online: number;
  rx_bytes: number;
  tx_bytes: number;
  uptime_seconds: number;
  handshakes: number;
  counters: Record<string, number>;
}

export interface InstallView {
  url: string;
  expires_at: string;
  qr_install_svg: string;
  qr_config_svg: string;
  downloads: { conf: string; bat: string; sh: string };
}

export interface NodeHistory {
  intervalMs: number;
  traffic: Array<{ at: number; rx: number; tx: number }>;
  handshakes: string[];
}
