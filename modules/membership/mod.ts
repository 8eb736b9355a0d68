/**
 * Membership of WireGuard nets: signed, content-addressed records folded
 * into a member set that every node computes alike; invites; address
 * allocation; replication by anti-entropy; pairwise post-quantum PSKs.
 *
 * @example
 * ```ts
 * import { foldMembers, liveMembers, parseRecord } from "./mod.ts";
 * const records = await Promise.all(files.map((bytes) => parseRecord(bytes, netId)));
 * const set = foldMembers(records, netId);
 * liveMembers(set).map((m) => m.address);
 * ```
 *
 * @module
 */
export * from "./errors.ts";
export * from "./patterns.ts";
export * from "./ipam.ts";
export * from "./invite.ts";
export * from "./member_request.ts";
export * from "./records.ts";
export * from "./member_set.ts";
export * from "./protocol.ts";
export * from "./net_store.ts";
export * from "./admission.ts";
export * from "./nets.ts";
export * from "./psk.ts";
export * from "./psk_exchange.ts";
export * from "./join_client.ts";
export * from "./anti_entropy.ts";
