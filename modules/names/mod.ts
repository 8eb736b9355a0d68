/**
 * Names for members: every live member of every net this node is in answers
 * to `NAME.NET.grid` (the suffix is configurable) through a small DNS
 * responder on a loopback address, and, as a fallback, through a managed
 * block of a hosts file. The answers come from the member sets alone.
 *
 * @example
 * ```ts
 * import { buildNameTable } from "./mod.ts";
 * const table = buildNameTable([{
 *   net: "home",
 *   members: [{ id: "n1", name: "alpha", joined: 1, addresses: ["10.77.0.1"] }],
 * }]);
 * table.get("alpha.home.grid")?.v4; // ["10.77.0.1"]
 * ```
 *
 * @module
 */
export {
  buildNameTable,
  DEFAULT_SUFFIX,
  isDnsName,
  type NamedMember,
  type NamedNet,
  type NameEntry,
  nameOf,
  type NameTable,
  parseSuffix,
} from "./name_table.ts";
export { DEFAULT_DNS_ADDRESS, parseDnsAddress } from "./dns_server.ts";
export { BEGIN_MARK, END_MARK, hostsLines, updateHostsFile, withHostsBlock } from "./hosts_file.ts";
export { namedNets, type Names, type NamesOptions, startNames } from "./names_service.ts";
