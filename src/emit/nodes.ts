import type { Model, NetworkModel } from "../resolve/model.js";
import type { Artifact } from "./artifact.js";
import { render } from "./hosts/render.js";
import { address, cidr, integer, label, networkName } from "./hosts/safe.js";

/** Where the workers install the systemd-networkd form; sorts before the distribution's own files. */
export const WORKER_NETWORK_FILE = "/etc/systemd/network/10-natgw-default-route.network";
export const WORKER_ROUTE_SCRIPT = "/usr/local/sbin/natgw-default-route";
export const WORKER_ROUTE_UNIT = "/etc/systemd/system/natgw-default-route.service";

/** "id:4711" -> "id-4711", "name:k8s" -> "name-k8s": the network key as a file name. */
export function networkFileStem(network: NetworkModel): string {
  const byId = /^id:([0-9]+)$/.exec(network.key);
  if (byId) return `id-${integer(Number(byId[1]), 1, Number.MAX_SAFE_INTEGER)}`;
  const byName = /^name:(.+)$/.exec(network.key);
  if (byName) return `name-${networkName(byName[1]!)}`;
  throw new Error(`natgw bug: unexpected network key ${JSON.stringify(network.key)}`);
}

/**
 * The snippets the workers need: since mid-2025 Hetzner's DHCP no longer gives a
 * server on a private network a default route, so a worker without a public
 * interface must persist `default via <the network's first IP>` itself. One pair
 * per network (gateways that share a network share its router): a cloud-init
 * form that works whatever manages the worker's interfaces, and a
 * systemd-networkd form for workers whose network systemd-networkd manages.
 */
export function emitNodes(model: Model): Artifact[] {
  const networks = new Map<string, { network: NetworkModel; gateways: string[] }>();
  for (const gateway of model.gateways) {
    const entry = networks.get(gateway.network.key) ?? { network: gateway.network, gateways: [] };
    entry.gateways.push(label(gateway.name));
    networks.set(gateway.network.key, entry);
  }
  return [...networks.values()]
    .sort((a, b) => (a.network.key < b.network.key ? -1 : a.network.key > b.network.key ? 1 : 0))
    .flatMap(({ network, gateways }) => {
      const stem = networkFileStem(network);
      const values = {
        network: stem,
        gateways: gateways.sort().join(", "),
        ipRange: cidr(network.ipRange),
        routerIp: address(network.routerIp),
        networkFile: WORKER_NETWORK_FILE,
        routeScript: WORKER_ROUTE_SCRIPT,
        routeUnit: WORKER_ROUTE_UNIT,
      };
      const artifact = (suffix: string, template: string): Artifact => ({
        path: `nodes/${stem}-default-route.${suffix}`,
        role: "config",
        gateway: null,
        member: null,
        fileMode: "0644",
        content: render(`nodes/${template}.njk`, values),
      });
      return [artifact("cloud-init.yaml", "default-route.cloud-init.yaml"), artifact("network", "default-route.network")];
    });
}
