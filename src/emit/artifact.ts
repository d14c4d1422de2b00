/**
 * A file natgw writes, with what the index (natgw.json) says about it. Emitters
 * return these; only the write stage touches the disk.
 */
export type Role =
  | "terraform"
  | "nftables"
  | "keepalived"
  | "conntrackd"
  | "systemd"
  | "sysctl"
  | "script"
  | "cloud-init"
  | "scrape-config"
  | "alert-rules"
  | "dashboard"
  | "diagram"
  | "config";

/** Permissions of a file on the host and in the output directory. */
export type FileMode = "0644" | "0755" | "0600";

export interface Artifact {
  /** Path inside the output directory, with `/` separators. */
  readonly path: string;
  readonly role: Role;
  readonly gateway: string | null;
  /** The member whose host runs the file; null for files about the whole gateway. */
  readonly member: string | null;
  readonly fileMode: FileMode;
  readonly content: string;
}
