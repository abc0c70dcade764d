// Hubs sharing a registry as the API's status shows them (`ha` of GET /api/vpn/status): declared
// here, below http/, so that the namespace lab (bench/) reads the very shape the API writes.

/** `away`: it has not claimed the lease within a lease's length. */
export type HubState = 'active' | 'standby' | 'away';

/** This hub and the active one (hubSchema's `ha`), typed by hand: FromSchema reads a nullable object as null. */
export interface HaView {
  hub_id: string;
  role: 'active' | 'standby';
  active_hub: string | null;
  active_since: string | null;
  lease_expires_at: string | null;
  hubs: Array<{ hub_id: string; api_url: string; endpoint: string; state: HubState; seen_at: string }>;
}
