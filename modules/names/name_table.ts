/**
 * The names every node answers: `NAME.NET.SUFFIX` for each live member of
 * each net, built from the member sets alone (a pure function), so a member
 * that left or was revoked stops resolving the moment the fold says so.
 *
 * Names are unique per net in DNS: members may pick the same display name
 * (or names differing only in case), and the one admitted first keeps it
 * while each later one answers as `NAME-2`, `NAME-3`, ... in admission
 * order. Every node folds the same records, so every node gives the same
 * answer.
 *
 * @module
 */

/** The default suffix: `NAME.NET.grid`. */
export const DEFAULT_SUFFIX = "grid";

/** One member as the table needs it. */
export interface NamedMember {
  /** Node id (the tie-break between two admitted at the same time). */
  readonly id: string;
  /** Its display name. */
  readonly name: string;
  /** Admission time (ms): the earlier admitted keeps a shared name. */
  readonly joined: number;
  /** Its tunnel addresses (IPv4 and, where it has one, IPv6). */
  readonly addresses: readonly string[];
}

/** One net's live members. */
export interface NamedNet {
  /** The net's name. */
  readonly net: string;
  /** Its live members. */
  readonly members: readonly NamedMember[];
}

/** One name's entry. */
export interface NameEntry {
  /** The fully qualified name, lowercase, no trailing dot. */
  readonly fqdn: string;
  /** The member's node id. */
  readonly id: string;
  /** The member's net. */
  readonly net: string;
  /** IPv4 addresses. */
  readonly v4: readonly string[];
  /** IPv6 addresses. */
  readonly v6: readonly string[];
}

/** Names by lowercase fully qualified name. */
export type NameTable = ReadonlyMap<string, NameEntry>;

const LABEL = /^[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?$/;

/** True when `name` is a dotted run of DNS labels (letters, digits, `_`, inner `-`). */
export function isDnsName(name: string): boolean {
  return name.length > 0 && name.length <= 253 &&
    name.toLowerCase().split(".").every((l) => LABEL.test(l));
}

/**
 * Checks a `--dns-suffix`: DNS labels, a leading or trailing dot dropped;
 * returns it lowercase, or throws a RangeError naming it.
 */
export function parseSuffix(text: string): string {
  const suffix = text.replace(/^\.|\.$/g, "").toLowerCase();
  if (!isDnsName(suffix) || suffix.length > 100) {
    throw new RangeError(
      `Invalid DNS suffix "${text.slice(0, 60)}": use DNS labels such as "grid"`,
    );
  }
  return suffix;
}

/**
 * The names of `nets` under `suffix`: `NAME.NET.SUFFIX`, one label for the
 * member (dots in its name become dashes). A member whose name (or a net
 * whose name) is no DNS name gets no entry.
 */
export function buildNameTable(
  nets: readonly NamedNet[],
  suffix: string = DEFAULT_SUFFIX,
): NameTable {
  const table = new Map<string, NameEntry>();
  for (const { net, members } of nets) {
    if (!isDnsName(net)) continue;
    const zone = `${net}.${suffix}`.toLowerCase();
    const order = [...members].sort((a, b) =>
      a.joined - b.joined || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)
    );
    for (const m of order) {
      // One label per member: a name with dots (allowed in member names) is written with
      // dashes, so "primary.zz" in net "corp" cannot take "primary" in net "zz.corp".
      const base = m.name.toLowerCase().replaceAll(".", "-");
      if (!isDnsName(base)) continue;
      let fqdn = `${base}.${zone}`;
      for (let n = 2; table.has(fqdn); n++) fqdn = `${base}-${n}.${zone}`;
      if (fqdn.length > 253) continue;
      table.set(fqdn, {
        fqdn,
        id: m.id,
        net,
        v4: m.addresses.filter((a) => !a.includes(":")),
        v6: m.addresses.filter((a) => a.includes(":")),
      });
    }
  }
  return table;
}

/** The DNS name `id` answers to in `net`, if any. */
export function nameOf(table: NameTable, net: string, id: string): string | undefined {
  for (const e of table.values()) if (e.net === net && e.id === id) return e.fqdn;
  return undefined;
}
