import type { Change, RecordedRequest, Route } from "../../support/hetzner-api.js";

/** What the lab tells its cloud: the servers, what Terraform created, where to listen. */
export interface CloudConfig {
  readonly controlSocket: string;
  readonly apiAddress: string;
  readonly certificate: string;
  readonly key: string;
  readonly token: string;
  readonly actionSeconds: number;
  /** The routing table the private network's interfaces use. */
  readonly routeTable: number;
  readonly network: { readonly id: number; readonly name: string; readonly ipRange: string; readonly subnet: string; readonly gateway: string };
  readonly servers: readonly { readonly id: number; readonly name: string; readonly publicIp: string; readonly privateIp: string; readonly privateMac: string }[];
  readonly floatingIPs: Record<number, { address: string; server: number | null }>;
  readonly networks: Record<number, Route[]>;
}

export interface CloudState {
  readonly floatingIPs: Record<string, { address: string; server: number | null }>;
  readonly networks: Record<string, Route[]>;
  readonly requests: readonly RecordedRequest[];
  /** Changes applied to the routing since the members started, with when (ms since the epoch). */
  readonly changes: readonly (Change & { readonly time: number })[];
  readonly held: boolean;
  /** Actions posted that have not succeeded yet. */
  readonly pendingActions: number;
  /** Error answers asked for (POST /fail) that no request has met yet. */
  readonly pendingFaults: number;
}
